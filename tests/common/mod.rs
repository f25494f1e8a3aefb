//! What every integration test shares: the brokers `make test` started, fresh topics, and
//! the `mqk` binary run as a user runs it.
//!
//! The brokers come from `MQK_TEST_MQTT` (Mosquitto 2) and `MQK_TEST_KAFKA` (tansu), set by
//! `scripts/test.sh`. A test that needs a broker fails when its variable is missing; it
//! never passes without having run.

#![allow(dead_code)]

pub mod own;
pub mod proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// `mqtt://host:port` of the test Mosquitto.
pub fn mqtt() -> String {
    broker("MQK_TEST_MQTT")
}

/// `kafka://host:port` of the test tansu.
pub fn kafka() -> String {
    broker("MQK_TEST_KAFKA")
}

/// `host:port` of a test broker's URL (`mqtt()` or `kafka()`), for a [`proxy::Proxy`].
pub fn address_of(url: &str) -> std::net::SocketAddr {
    let address = url.split_once("://").map_or(url, |(_, rest)| rest);
    address
        .parse()
        .unwrap_or_else(|e| panic!("{url} is not host:port on loopback: {e}"))
}

fn broker(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with `make test`, which starts the brokers")
    })
}

/// A topic name no other test (or earlier run) uses: `mqk-<test>-<pid>-<n>`.
pub fn fresh(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "mqk-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a Kafka topic on the test broker and returns its name.
pub fn kafka_topic(test: &str, partitions: i32) -> String {
    let name = fresh(test);
    let settings = mqk::kafka::KafkaSettings {
        brokers: kafka().trim_start_matches("kafka://").to_owned(),
        overrides: Vec::new(),
        metadata_timeout: Duration::from_secs(10),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(mqk::kafka::ensure_topic(&settings, &name, Some(partitions)))
        .unwrap_or_else(|e| panic!("cannot create kafka topic {name}: {e:#}"));
    name
}

/// The path of a file in `../shared/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(name)
}

/// `mqk` with these arguments, not yet started.
pub fn mqk(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mqk"));
    command.args(args);
    command
}

/// Runs `mqk` to the end with `stdin` as input, at most `limit`.
pub fn run(args: &[&str], stdin: &[u8], limit: Duration) -> Output {
    let mut child = mqk(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mqk starts");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = wait_output(child, limit);
    writer.join().unwrap();
    output
}

/// Waits for a started child's output, killing it after `limit`.
pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let stdout = child.stdout.take().map(reader_thread);
    let stderr = child.stderr.take().map(reader_thread);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            let err = stderr.map(|t| t.join().unwrap()).unwrap_or_default();
            panic!(
                "mqk did not finish within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.map(|t| t.join().unwrap()).unwrap_or_default(),
        stderr: stderr.map(|t| t.join().unwrap()).unwrap_or_default(),
    }
}

fn reader_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = pipe.read_to_end(&mut all);
        all
    })
}

/// A running `mqk` whose stderr said `ready`; the rest of its stderr is collected. Killed
/// when dropped, so a failing test leaves nothing running.
pub struct Ready {
    pub child: Child,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// Starts `mqk` with stdout piped and waits (at most 20 s) for its `ready` line.
pub fn start(args: &[&str]) -> Ready {
    start_with(mqk(args).stdout(Stdio::piped()))
}

/// Starts a prepared command and waits for its `ready` line.
pub fn start_with(command: &mut Command) -> Ready {
    let mut child = command.stderr(Stdio::piped()).spawn().expect("mqk starts");
    let stderr = lines(child.stderr.take().unwrap());
    let mut ready = Ready {
        child,
        stderr,
        seen: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ready.stderr.recv_timeout(left) {
            Ok(line) => {
                let is_ready = line.starts_with("ready");
                ready.seen.push(line);
                if is_ready {
                    return ready;
                }
            }
            Err(_) => {
                let _ = ready.child.kill();
                panic!(
                    "no ready line within 20 s; stderr:\n{}",
                    ready.seen.join("\n")
                );
            }
        }
    }
}

fn lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Ready {
    /// Waits for the process to exit by itself, at most `limit`; returns its stdout, stderr
    /// and status.
    pub fn finish(mut self, limit: Duration) -> Output {
        let child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        let mut output = wait_output(child, limit);
        let mut stderr = self.seen.join("\n");
        while let Ok(line) = self.stderr.try_recv() {
            stderr.push('\n');
            stderr.push_str(&line);
        }
        output.stderr = stderr.into_bytes();
        output
    }

    /// SIGTERM, then waits for the exit, at most `limit`.
    pub fn terminate(self, limit: Duration) -> Output {
        self.signal("TERM");
        self.finish(limit)
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a process wrote on stderr, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that a process exited 0, showing its stderr if not.
pub fn assert_success(what: &str, output: &Output) {
    assert_exit(output, 0, what);
}

/// Asserts a process's exit code, showing its stderr if it is another.
pub fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}; stderr:\n{}",
        stderr(output)
    );
}

/// The lines of `sub --format json` output, each of which must parse.
pub fn envelopes(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(stdout.to_vec())
        .expect("JSON output is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The payload bytes of an envelope, decoded by its `payload_encoding`.
pub fn payload(envelope: &serde_json::Value) -> Vec<u8> {
    field_bytes(envelope, "payload").unwrap_or_else(|| panic!("no payload: {envelope}"))
}

/// A text-or-base64 field of an envelope (`payload`, `key`), decoded by its `NAME_encoding`.
pub fn field_bytes(envelope: &serde_json::Value, name: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = envelope.get(name)?.as_str()?;
    match envelope
        .get(format!("{name}_encoding"))
        .and_then(|e| e.as_str())
    {
        None => Some(text.as_bytes().to_vec()),
        Some("base64") => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("valid base64"),
        ),
        Some(other) => panic!("unknown {name}_encoding {other}"),
    }
}

/// `mqk sub` arguments that read a `kafka://` URL from the beginning to the end, as JSON.
pub fn read_to_end(url: &str) -> [&str; 7] {
    [
        "sub",
        url,
        "--from",
        "beginning",
        "--exit",
        "--format",
        "json",
    ]
}

/// Every record behind a `kafka://` URL, as envelopes.
pub fn kafka_envelopes(url: &str) -> Vec<serde_json::Value> {
    let output = run(&read_to_end(url), b"", Duration::from_secs(60));
    assert_exit(&output, 0, &format!("sub --exit of {url}"));
    envelopes(&output.stdout)
}

/// Lines of text.
pub fn text_lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Mosquitto's count of messages it dropped (queue limits), from `$SYS`. Mosquitto 2.0.11
/// publishes the counter when it changes and keeps it retained for about a minute, so no value
/// within a few seconds means it has not moved in the last minute: read it right after the
/// scenario it checks (sys_interval is 1 s in the test configuration), and treat silence as 0.
pub fn mosquitto_dropped() -> u64 {
    let url = format!("{}/$SYS/broker/publish/messages/dropped", mqtt());
    let output = run(
        &["sub", &url, "-n", "1", "--timeout", "3s"],
        b"",
        Duration::from_secs(20),
    );
    match output.status.code() {
        Some(0) => String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a number"),
        Some(7) => 0,
        _ => panic!(
            "cannot read $SYS: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
