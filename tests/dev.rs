//! `mqk dev`: the MQTT broker and Kafka mock cluster it runs in its own process serve other
//! processes at the URLs it prints, carry the whole pipeline, refuse a Kafka topic nobody
//! created as tansu does, and stop cleanly on SIGTERM.
//!
//! These tests need no installed broker: each starts its own `mqk dev`.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::ChildStdout;
use std::time::{Duration, Instant};

use mqk::audit::{Audit, Counts};

#[test]
fn dev_prints_three_urls_that_work_for_mqtt_5_mqtt_311_and_kafka() {
    let topic = common::fresh("dev-urls");
    let dev = Dev::start(&[&format!("{topic}:3")]);

    assert_eq!(dev.names, ["MQK_MQTT", "MQK_MQTT311", "MQK_KAFKA"]);
    let mqtt5 = format!("{}/{topic}", dev.url("MQK_MQTT"));
    assert_eq!(round_trip(&mqtt5, &[], "over MQTT 5"), "over MQTT 5\n");
    let mqtt311 = format!("{}/{topic}", dev.url("MQK_MQTT311"));
    assert_eq!(
        round_trip(&mqtt311, &["-V", "3.1.1"], "over 3.1.1"),
        "over 3.1.1\n"
    );
    let kafka = format!("{}/{topic}", dev.url("MQK_KAFKA"));
    let published = common::run(&["pub", &kafka, "-m", "a record"], b"", LIMIT);
    common::assert_success("pub to Kafka", &published);
    let read = common::run(
        &["sub", &kafka, "--from", "beginning", "--exit"],
        b"",
        LIMIT,
    );
    common::assert_success("sub from Kafka", &read);
    assert_eq!(String::from_utf8_lossy(&read.stdout), "a record\n");

    let rest_of_stdout = dev.stop();
    assert_eq!(rest_of_stdout, "", "stdout after the three export lines");
}

#[test]
fn dev_carries_the_sensor_stream_through_the_bridge_in_order() {
    let topic = common::fresh("dev-pipeline");
    let dev = Dev::start(&[&topic]);
    let mqtt = format!("{}/sensors", dev.url("MQK_MQTT"));
    let kafka = format!("{}/{topic}", dev.url("MQK_KAFKA"));
    let fixture = std::fs::read(common::fixture("sensors.ndjson")).expect("the fixture exists");
    let lines = common::text_lines(&fixture);
    assert_eq!(lines.len(), 600, "the fixture holds 600 readings");
    let bridge = common::start(&["bridge", &mqtt, &kafka]);

    let published = common::run(&["pub", &mqtt, "-l", "-q", "1"], &fixture, LIMIT);
    common::assert_success("pub", &published);
    let arrived = common::run(
        &[
            "sub",
            &kafka,
            "--from",
            "beginning",
            "-n",
            "600",
            "--timeout",
            "30s",
        ],
        b"",
        Duration::from_secs(45),
    );
    common::assert_success("sub -n 600", &arrived);
    let stopped = bridge.terminate(LIMIT);
    common::assert_success("bridge after SIGTERM", &stopped);
    let read = common::run(
        &["sub", &kafka, "--from", "beginning", "--exit"],
        b"",
        LIMIT,
    );
    common::assert_success("sub --exit", &read);
    let received = common::text_lines(&read.stdout);

    let mut audit = Audit::default();
    for line in &lines {
        audit.expect(&sensor_id(line), line.as_bytes());
    }
    for line in &received {
        audit.receive(&sensor_id(line), line.as_bytes());
    }
    let exactly_once = Counts {
        expected: 600,
        delivered: 600,
        ..Counts::default()
    };
    assert_eq!(audit.total(), exactly_once, "all sensors together");
    assert!(
        received == lines,
        "the records are not the readings in publishing order"
    );
}

#[test]
fn dev_refuses_a_kafka_topic_it_did_not_create_and_does_not_create_it_on_the_way() {
    let dev = Dev::start(&[&common::fresh("dev-known")]);
    let missing = format!("{}/{}", dev.url("MQK_KAFKA"), common::fresh("dev-missing"));

    for attempt in ["first", "second"] {
        let started = Instant::now();
        let refused = common::run(&["pub", &missing, "-m", attempt], b"", LIMIT);
        assert_eq!(
            refused.status.code(),
            Some(5),
            "{attempt} pub; stderr: {}",
            common::stderr(&refused)
        );
        assert!(
            common::stderr(&refused).contains("does not exist"),
            "stderr: {}",
            common::stderr(&refused)
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{attempt} pub was not fast"
        );
    }
}

#[test]
fn create_topic_on_dev_fails_within_the_metadata_timeout_saying_to_use_dev_topic() {
    let dev = Dev::start(&[]);
    let topic = common::fresh("dev-create");
    let url = format!("{}/{topic}", dev.url("MQK_KAFKA"));

    let started = Instant::now();
    let refused = common::run(
        &[
            "pub",
            &url,
            "-m",
            "x",
            "--create-topic",
            "--metadata-timeout",
            "2s",
        ],
        b"",
        LIMIT,
    );

    let stderr = common::stderr(&refused);
    assert_eq!(refused.status.code(), Some(5), "stderr: {stderr}");
    assert!(
        stderr.contains("the broker does not implement CreateTopics"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains(&format!("mqk dev --topic {topic}:1")),
        "stderr: {stderr}"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "took {took:?} with a 2 s timeout"
    );
}

#[test]
fn dev_refuses_a_port_another_process_listens_on_naming_the_flag() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    for flag in ["--mqtt-port", "--mqtt311-port"] {
        let started = Instant::now();
        let refused = common::run(&["dev", flag, &port], b"", LIMIT);

        let stderr = common::stderr(&refused);
        assert_eq!(refused.status.code(), Some(1), "{flag}; stderr: {stderr}");
        assert!(
            stderr.contains(&format!("{flag} {port}: cannot listen on 127.0.0.1:{port}")),
            "stderr: {stderr}"
        );
        assert!(refused.stdout.is_empty(), "dev printed URLs for {flag}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{flag}: not at once"
        );
    }
}

#[test]
fn dev_on_the_mqtt_port_of_another_dev_fails_instead_of_pointing_at_it() {
    let first = Dev::start(&[]);
    let url = first.url("MQK_MQTT");
    let port = &url[url.rfind(':').unwrap() + 1..];

    let second = common::run(&["dev", "--mqtt-port", port], b"", LIMIT);

    let stderr = common::stderr(&second);
    assert_eq!(second.status.code(), Some(1), "stderr: {stderr}");
    let ready = stderr.lines().any(|line| line.starts_with("ready"));
    assert!(!ready, "the second dev said ready; stderr: {stderr}");
    assert!(second.stdout.is_empty(), "the second dev printed URLs");
}

#[test]
fn dev_exits_0_on_sigterm() {
    let dev = Dev::start(&[]);

    let stopped = dev.process.terminate(LIMIT);

    assert_eq!(
        stopped.status.code(),
        Some(0),
        "stderr:\n{}",
        common::stderr(&stopped)
    );
}

// ---------------------------------------------------------------------------------------------

/// How long any single command of these tests may take.
const LIMIT: Duration = Duration::from_secs(30);

/// A started `mqk` that is killed when the test ends, however it ends.
/// A running `mqk dev` and the variables it exported.
struct Dev {
    process: common::Ready,
    stdout: BufReader<ChildStdout>,
    names: Vec<String>,
    values: Vec<String>,
}

impl Dev {
    /// Starts `mqk dev --topic T…` and reads its three `export NAME=VALUE` lines.
    fn start(topics: &[&str]) -> Self {
        let mut args = vec!["dev"];
        for topic in topics {
            args.extend(["--topic", topic]);
        }
        let mut process = common::start(&args);
        let child = &mut process.child;
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut names, mut values) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let assignment = line.trim_end().strip_prefix("export ");
            let (name, value) = assignment
                .and_then(|a| a.split_once('='))
                .unwrap_or_else(|| panic!("not an `export NAME=VALUE` line: {line:?}"));
            names.push(name.to_owned());
            values.push(value.to_owned());
        }
        Dev {
            process,
            stdout,
            names,
            values,
        }
    }

    fn url(&self, name: &str) -> &str {
        let at = self.names.iter().position(|n| n == name);
        let value = &self.values[at.unwrap_or_else(|| panic!("{name} was not exported"))];
        assert!(
            value.contains("://127.0.0.1:"),
            "{name}={value} is not on loopback"
        );
        value
    }

    /// SIGTERM; returns what `dev` printed on stdout after the export lines.
    fn stop(mut self) -> String {
        let stopped = self.process.terminate(LIMIT);
        common::assert_success("dev after SIGTERM", &stopped);
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        rest
    }
}

/// Publishes `message` to `url` while a subscriber listens; returns what the subscriber printed.
fn round_trip(url: &str, options: &[&str], message: &str) -> String {
    let mut sub = vec!["sub", url, "-n", "1", "--timeout", "20s"];
    sub.extend(options);
    let listener = common::start(&sub);
    let mut publish = vec!["pub", url, "-m", message];
    publish.extend(options);

    let published = common::run(&publish, b"", LIMIT);
    let received = listener.finish(LIMIT);

    common::assert_success(&format!("pub {options:?}"), &published);
    common::assert_success(&format!("sub {options:?}"), &received);
    String::from_utf8_lossy(&received.stdout).into_owned()
}

fn sensor_id(reading: &str) -> String {
    serde_json::from_str::<serde_json::Value>(reading)
        .ok()
        .and_then(|v| v["sensor_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "(not a reading)".into())
}
