//! `mqk pub` and `mqk sub` against the test Mosquitto and tansu, as a script uses them: what
//! goes in (lines, files, envelopes) arrives byte for byte, exit codes mean what they say,
//! and output keeps flowing into a pipe and stops quietly when the pipe closes.
//!
//! Cases named Cnn are the field failures in `../shared/cases.md`; "scenario n" is issue 2's
//! list of scenarios.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{ChildStdout, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use common::{assert_exit, envelopes, payload, stderr};

/// How long any single `mqk` run of these tests may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(30);

// Scenario 2: a long QoS 1 stream loses nothing and keeps its order.

#[test]
fn pub_lines_at_qos_1_delivers_200000_messages_in_order() {
    let topic = common::fresh("pub-200k");
    let input = numbered_lines(200_000);
    let dropped_before = common::mosquitto_dropped();

    let mut sub = subscribe(&[&mqtt(&topic), "-n", "200000"]);
    let stdout = collect(&mut sub);
    let publisher = common::run(
        &["pub", &mqtt(&topic), "-l", "-q", "1"],
        &input,
        Duration::from_secs(50),
    );
    assert_exit(&publisher, 0, "pub -l -q 1 of 200000 lines");
    let subscriber = sub.finish(Duration::from_secs(50));
    assert_exit(&subscriber, 0, "sub -n 200000");

    let received = stdout.join().unwrap();
    assert!(received == input, "{}", first_difference(&input, &received));
    // Mosquitto refreshes $SYS every second (sys_interval 1 in the test configuration).
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        common::mosquitto_dropped(),
        dropped_before,
        "mosquitto dropped messages"
    );
}

/// `count` lines of 100 bytes with their newline, each starting with its sequence number.
fn numbered_lines(count: usize) -> Vec<u8> {
    let filler = "abcdefghijklmnopqrstuvwxyz".repeat(4);
    let mut lines = Vec::with_capacity(count * 100);
    for n in 0..count {
        lines.extend_from_slice(format!("{n:09} {}\n", &filler[..89]).as_bytes());
    }
    lines
}

/// Where two line streams first differ, for a readable failure on megabytes of output.
fn first_difference(expected: &[u8], got: &[u8]) -> String {
    let expected: Vec<&[u8]> = expected.split(|b| *b == b'\n').collect();
    let got: Vec<&[u8]> = got.split(|b| *b == b'\n').collect();
    let at = expected.iter().zip(&got).position(|(e, g)| e != g);
    let at = at.unwrap_or(expected.len().min(got.len()));
    let line = |lines: &[&[u8]]| {
        lines
            .get(at)
            .map(|l| String::from_utf8_lossy(l).into_owned())
    };
    format!(
        "received {} lines, expected {}; first difference at line {at}: expected {:?}, got {:?}",
        got.len() - 1,
        expected.len() - 1,
        line(&expected),
        line(&got)
    )
}

// Scenario 4 and C32: an unreachable broker is an error, quickly, naming the address.

#[test]
fn pub_to_a_closed_mqtt_port_exits_3_naming_the_address() {
    let address = format!("127.0.0.1:{}", closed_port());
    let url = format!("mqtt://{address}/{}", common::fresh("closed-mqtt"));

    let started = Instant::now();
    let output = common::run(&["pub", &url, "-m", "x"], b"", Duration::from_secs(20));

    assert_within(started, Duration::from_secs(10));
    assert_exit(&output, 3, "pub to a closed MQTT port");
    assert_says(&output, &address);
}

#[test]
fn sub_from_a_closed_mqtt_port_exits_3_naming_the_address() {
    let address = format!("127.0.0.1:{}", closed_port());
    let url = format!("mqtt://{address}/{}", common::fresh("closed-mqtt-sub"));

    let started = Instant::now();
    let output = common::run(&["sub", &url], b"", Duration::from_secs(20));

    assert_within(started, Duration::from_secs(10));
    assert_exit(&output, 3, "sub from a closed MQTT port");
    assert_says(&output, &address);
}

#[test]
fn pub_to_a_closed_kafka_port_exits_3_naming_the_address() {
    let address = format!("127.0.0.1:{}", closed_port());
    let url = format!("kafka://{address}/{}", common::fresh("closed-kafka"));

    let started = Instant::now();
    let output = common::run(&["pub", &url, "-m", "x"], b"", Duration::from_secs(20));

    assert_exit(&output, 3, "pub to a closed Kafka port");
    assert_says(&output, &address);
    assert_within(started, Duration::from_secs(10));
}

/// A loopback port on which nothing listens (it did a moment ago, for us only).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn usage_errors_exit_2_before_connecting_and_name_what_is_wrong() {
    // Nothing listens on port 1: a usage error must be found before any connection is tried.
    let cases: [(&[&str], &str); 4] = [
        (&["mqtt://127.0.0.1:1/t", "-m", "x", "-q", "3"], "-q"),
        (&["mqtt://127.0.0.1:1/a/+", "-m", "x"], "a/+"),
        (&["mqtt://127.0.0.1:1/a/#", "-m", "x"], "a/#"),
        (
            &["mqtt://127.0.0.1:1/", "-m", "x"],
            "127.0.0.1:1/ names no topic",
        ),
    ];
    for (args, named) in cases {
        let started = Instant::now();
        let output = common::run(&[&["pub"], args].concat(), b"", Duration::from_secs(10));
        assert_within(started, Duration::from_secs(2));
        assert_exit(&output, 2, &format!("pub {}", args.join(" ")));
        assert_says(&output, named);
    }
}

#[test]
fn values_the_protocols_or_clients_cannot_take_exit_2_before_connecting() {
    // Nothing listens there: a usage error must be found before any connection is tried.
    let address = format!("127.0.0.1:{}", closed_port());
    let mqtt = format!("mqtt://{address}/t");
    let kafka = format!("kafka://{address}/t");
    let long_id = "i".repeat(65_536);
    let sasl = "security.protocol=sasl_plaintext";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["pub", &mqtt, "-m", "x", "--keep-alive", "65536s"],
            "65535s",
        ),
        (vec!["pub", &mqtt, "-m", "x", "-i", &long_id], "-i/--id"),
        (
            vec!["pub", &kafka, "-m", "x", "--metadata-timeout", "0s"],
            "--metadata-timeout",
        ),
        (vec!["sub", &mqtt, "--timeout", "0s"], "--timeout"),
        (
            vec!["pub", &kafka, "-m", "x", "-X", "no.such.key=1"],
            "-X no.such.key=1",
        ),
        (
            vec![
                "pub",
                &kafka,
                "-m",
                "x",
                "-X",
                sasl,
                "-X",
                "sasl.mechanism=PLAIN",
            ],
            "-X properties do not go together: sasl.username",
        ),
        (
            vec!["sub", &kafka, "-X", sasl, "-X", "sasl.mechanism=PLAIN"],
            "-X properties do not go together: sasl.username",
        ),
        (
            vec!["pub", &kafka, "-m", "x", "-X", "security.protocol=ssl"],
            "OpenSSL not available",
        ),
        (
            vec!["dev", "--topic", "twice", "--topic", "twice:2"],
            "--topic twice",
        ),
    ];
    assert_usage_errors(&cases);
}

#[test]
fn urls_with_junk_after_the_address_or_with_credentials_exit_2_before_connecting() {
    let port = closed_port();
    let junk = format!("mqtt://[::1]x:{port}/t");
    let kafka_junk = format!("kafka://127.0.0.1:{port},[::1]x:{port}/t");
    let credentials = format!("mqtt://user:secret@127.0.0.1:{port}/t");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["pub", &junk, "-m", "x"], "invalid host '[::1]x:"),
        (vec!["pub", &kafka_junk, "-m", "x"], "invalid host '[::1]x:"),
        (
            vec!["sub", &credentials],
            "-u and --password (or MQK_PASSWORD)",
        ),
    ];
    let outputs = assert_usage_errors(&cases);
    assert!(
        !stderr(&outputs[2]).contains("secret"),
        "{}",
        stderr(&outputs[2])
    );
}

#[test]
fn flags_of_the_system_the_url_does_not_name_exit_2_before_connecting() {
    let address = format!("127.0.0.1:{}", closed_port());
    let mqtt = format!("mqtt://{address}/t");
    let kafka = format!("kafka://{address}/t");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["pub", &mqtt, "-m", "x", "--create-topic"],
            "--create-topic applies to Kafka",
        ),
        (
            vec!["pub", &mqtt, "-m", "x", "-X", "acks=1"],
            "-X applies to Kafka",
        ),
        (
            vec!["sub", &mqtt, "--from", "beginning"],
            "--from applies to Kafka",
        ),
        (
            vec!["pub", &kafka, "-m", "x", "--keep-alive", "9s"],
            "--keep-alive applies to MQTT",
        ),
        (
            vec!["sub", &kafka, "-u", "me"],
            "-u/--username applies to MQTT",
        ),
        (vec!["sub", &kafka, "-q", "0"], "-q/--qos applies to MQTT"),
    ];
    assert_usage_errors(&cases);
}

#[test]
fn a_password_from_the_environment_is_left_out_where_no_user_name_uses_it() {
    let topic = common::kafka_topic("kafka-env-password", 1);
    let to_kafka = with_env_password(&["pub", &kafka(&topic), "-m", "x"]);
    let to_mqtt = with_env_password(&["pub", &mqtt(&common::fresh("env-password")), "-m", "x"]);

    assert_exit(&to_kafka, 0, "pub to Kafka with MQK_PASSWORD set");
    assert_exit(&to_mqtt, 0, "pub to MQTT without -u, with MQK_PASSWORD set");
}

fn with_env_password(args: &[&str]) -> Output {
    let child = common::mqk(args)
        .env("MQK_PASSWORD", "for another broker")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mqk starts");
    common::wait_output(child, LIMIT)
}

/// Runs each command line, asserting that it exits 2 at once and names what is wrong.
fn assert_usage_errors(cases: &[(Vec<&str>, &str)]) -> Vec<Output> {
    let mut outputs = Vec::new();
    for (args, named) in cases {
        let started = Instant::now();
        let output = common::run(args, b"", Duration::from_secs(10));
        assert_within(started, Duration::from_secs(2));
        assert_exit(&output, 2, &args.join(" "));
        assert_says(&output, named);
        outputs.push(output);
    }
    outputs
}

// Scenario 5 and C09: binary payloads arrive byte-identical.

#[test]
fn a_50_kb_binary_file_arrives_byte_identical_as_raw_output() {
    let topic = common::fresh("binary-50k");
    let bytes = binary(50_000, 7);
    assert!(bytes.contains(&0) && bytes.contains(&b'\n') && std::str::from_utf8(&bytes).is_err());
    let file = temp_file("binary-50k", &bytes);

    let sub = subscribe(&[&mqtt(&topic), "-n", "1", "--format", "raw"]);
    publish(&[&mqtt(&topic), "-f", file.path()], b"");

    let received = received(sub);
    assert_eq!(received.len(), bytes.len());
    assert!(received == bytes, "the payload came back changed");
}

/// A payload far larger than a socket buffer takes many writes; none of them may wait for the
/// next keep-alive ping to go out (it did: a 10 MB QoS 1 publish took one whole keep-alive
/// interval to be acknowledged, because the half-flushed packet sat in a dropped poll).
#[test]
fn a_10_mb_qos_1_publish_is_acknowledged_without_waiting_for_a_keep_alive_ping() {
    let topic = common::fresh("large-qos1");
    let bytes = binary(10_000_000, 11);
    let file = temp_file("large-qos1", &bytes);
    let keep_alive = Duration::from_secs(120);

    let sub = subscribe(&[&mqtt(&topic), "-n", "1", "--format", "raw", "-q", "1"]);
    let started = Instant::now();
    let args = [
        &mqtt(&topic),
        "-q",
        "1",
        "-f",
        file.path(),
        "--keep-alive",
        "120s",
    ];
    let output = common::run(&[&["pub"][..], &args].concat(), b"", keep_alive * 2);
    let took = started.elapsed();

    assert_exit(&output, 0, "pub of 10 MB");
    assert!(
        took < keep_alive / 2,
        "the publish took {took:?}, as long as a keep-alive interval"
    );
    let received = received(sub);
    assert!(received == bytes, "the payload came back changed");
}

#[test]
fn sub_json_piped_into_pub_json_reproduces_100_binary_messages() {
    let (a, b) = (common::fresh("pipe-a"), common::fresh("pipe-b"));
    let payloads: Vec<Vec<u8>> = (0..100).map(payload_with_newlines).collect();

    let reader = subscribe(&[&mqtt(&b), "-n", "100", "--format", "json"]);
    let mut sub_a = subscribe(&[&mqtt(&a), "-n", "100", "--format", "json"]);
    let pipe = sub_a.child.stdout.take().unwrap();
    let pub_b = common::mqk(&["pub", &mqtt(&b), "--format", "json"])
        .stdin(Stdio::from(pipe))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mqk starts");
    let records: String = payloads.iter().map(|p| base64_envelope(p) + "\n").collect();
    publish(&[&mqtt(&a), "--format", "json"], records.as_bytes());

    assert_exit(&sub_a.finish(LIMIT), 0, "sub of topic A");
    assert_exit(
        &common::wait_output(pub_b, LIMIT),
        0,
        "pub --format json to topic B",
    );
    let envelopes = envelopes(&received(reader));
    let got: Vec<Vec<u8>> = envelopes.iter().map(payload).collect();
    assert_eq!(got, payloads);
    assert!(
        envelopes.iter().all(|e| e["topic"] == b.as_str()),
        "{envelopes:?}"
    );
}

/// Message `n` of the pipe test: every one holds a newline; even ones are not UTF-8.
fn payload_with_newlines(n: u8) -> Vec<u8> {
    let mut payload = format!("message {n}\nsecond line\r\n").into_bytes();
    if n.is_multiple_of(2) {
        payload.extend_from_slice(&[0, 0xff, n, b'\n']);
    }
    payload
}

/// A publishable envelope carrying `payload` as base64.
fn base64_envelope(payload: &[u8]) -> String {
    serde_json::json!({"payload": BASE64.encode(payload), "payload_encoding": "base64"}).to_string()
}

/// `len` bytes that look random but are the same on every run.
fn binary(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

// C01 and C02: line mode sends every line, the last one too, blank ones as empty messages.

#[test]
fn lines_mode_sends_a_last_line_without_its_newline() {
    let topic = common::fresh("last-line");

    let sub = subscribe(&[&mqtt(&topic), "-n", "2", "--format", "json"]);
    let output = publish(&[&mqtt(&topic), "-l"], b"a\nb");

    assert_eq!(payloads(&received(sub)), [b"a".to_vec(), b"b".to_vec()]);
    assert_says(&output, "published 2 messages");
}

#[test]
fn lines_mode_removes_crlf_and_adds_nothing() {
    let topic = common::fresh("crlf");

    let sub = subscribe(&[&mqtt(&topic), "-n", "2", "--format", "json"]);
    publish(&[&mqtt(&topic), "-l"], b"a\r\nb\r\n");

    assert_eq!(payloads(&received(sub)), [b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn lines_mode_with_empty_stdin_exits_0_at_once_having_published_nothing() {
    let topic = common::fresh("empty-stdin");

    let started = Instant::now();
    let output = common::run(&["pub", &mqtt(&topic), "-l"], b"", Duration::from_secs(10));

    assert_exit(&output, 0, "pub -l with empty stdin");
    assert_within(started, Duration::from_secs(5));
    assert_says(&output, "published 0 messages");
}

#[test]
fn lines_mode_sends_a_blank_line_as_a_zero_byte_message() {
    let topic = common::fresh("blank-line");

    let sub = subscribe(&[&mqtt(&topic), "-n", "3", "--format", "json"]);
    publish(&[&mqtt(&topic), "-l"], b"a\n\nb\n");

    let envelopes = envelopes(&received(sub));
    assert_eq!(envelopes.len(), 3);
    assert_eq!(envelopes[0]["payload"], "a");
    assert_eq!(envelopes[1]["payload"], "");
    assert!(
        envelopes[1].get("payload_encoding").is_none(),
        "{}",
        envelopes[1]
    );
    assert_eq!(envelopes[2]["payload"], "b");
}

#[test]
fn kafka_lines_mode_sends_the_last_line_and_blank_lines_as_empty_values() {
    let topic = common::kafka_topic("kafka-lines", 1);

    let output = publish(&[&kafka(&topic), "-l"], b"a\n\nb");

    assert_says(&output, "published 3 messages");
    let records = kafka_records(&topic);
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0]["payload"], "a");
    // An empty value, not a null one: the field is there, as an empty string.
    assert_eq!(records[1]["payload"], "");
    assert_eq!(records[2]["payload"], "b");
}

#[test]
fn kafka_lines_mode_with_empty_stdin_exits_0_at_once_having_published_nothing() {
    let topic = common::kafka_topic("kafka-empty-stdin", 1);

    let started = Instant::now();
    let output = common::run(&["pub", &kafka(&topic), "-l"], b"", Duration::from_secs(10));

    assert_exit(&output, 0, "pub -l to Kafka with empty stdin");
    assert_within(started, Duration::from_secs(5));
    assert_says(&output, "published 0 messages");
    assert_eq!(kafka_records(&topic), Vec::<Value>::new());
}

// C04: the payload is what the user gave, nothing added.

#[test]
fn file_mode_sends_exactly_the_file_bytes() {
    for (name, bytes) in [("one-byte", &b"1"[..]), ("trailing-newline", b"line\n")] {
        let topic = common::fresh(name);
        let file = temp_file(name, bytes);

        let sub = subscribe(&[&mqtt(&topic), "-n", "1", "--format", "raw"]);
        publish(&[&mqtt(&topic), "-f", file.path()], b"");

        assert_eq!(received(sub), bytes, "{name}");
    }
}

#[test]
fn an_empty_message_argument_sends_a_zero_byte_message() {
    let topic = common::fresh("empty-m");

    let sub = subscribe(&[&mqtt(&topic), "-n", "1", "--format", "json"]);
    publish(&[&mqtt(&topic), "-m", ""], b"");

    let envelopes = envelopes(&received(sub));
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0]["payload"], "");
}

// C14: an empty retained publish clears the topic's retained message.

#[test]
fn an_empty_retained_message_clears_the_retained_one() {
    let topic = common::fresh("clear-retained");
    let later_sub = || {
        let args = ["sub", &mqtt(&topic), "-n", "1", "--timeout", "2s"];
        common::run(&args, b"", LIMIT)
    };

    publish(&[&mqtt(&topic), "-r", "-m", "on"], b"");
    let before = later_sub();
    publish(&[&mqtt(&topic), "-r", "-m", ""], b"");
    let after = later_sub();

    assert_exit(&before, 0, "sub while a message is retained");
    assert_eq!(before.stdout, b"on\n");
    assert_exit(&after, 7, "sub after the retained message was cleared");
    assert!(after.stdout.is_empty());
}

// C03: long lines are neither split nor changed.

#[test]
fn lines_mode_sends_long_lines_whole() {
    let topic = common::fresh("long-lines");
    let lines: Vec<Vec<u8>> = (0..3)
        .map(|n| BASE64.encode(binary(200_000, n)).into_bytes())
        .collect();
    let input: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();

    let sub = subscribe(&[&mqtt(&topic), "-n", "3", "--format", "json"]);
    publish(&[&mqtt(&topic), "-l"], &input);

    assert_eq!(payloads(&received(sub)), lines);
}

#[test]
fn kafka_file_mode_sends_exactly_the_file_bytes() {
    let topic = common::kafka_topic("kafka-file", 1);
    let file = temp_file("kafka-file", b"1");

    publish(&[&kafka(&topic), "-f", file.path()], b"");

    assert_eq!(
        kafka_records(&topic)
            .iter()
            .map(payload)
            .collect::<Vec<_>>(),
        [b"1"]
    );
}

// C08: JSON output parses whatever the payload is.

#[test]
fn json_output_stays_valid_for_any_payload() {
    let topic = common::fresh("json-any");

    let sub = subscribe(&[&mqtt(&topic), "-n", "3", "--format", "json"]);
    for payload in [&b"\x00\xff\x00"[..], b"\"DATA\"", b"{"] {
        publish(&[&mqtt(&topic), "-s"], payload);
    }

    let envelopes = envelopes(&received(sub));
    assert_eq!(envelopes.len(), 3);
    assert_eq!(envelopes[0]["payload"], "AP8A");
    assert_eq!(envelopes[0]["payload_encoding"], "base64");
    assert_eq!(envelopes[1]["payload"], "\"DATA\"");
    assert!(
        envelopes[1].get("payload_encoding").is_none(),
        "{}",
        envelopes[1]
    );
    assert_eq!(envelopes[2]["payload"], "{");
}

#[test]
fn kafka_json_output_stays_valid_for_binary_keys_and_values() {
    let topic = common::kafka_topic("kafka-json-any", 1);
    let record = serde_json::json!({
        "key": "AP8A", "key_encoding": "base64",
        "payload": "/wA=", "payload_encoding": "base64",
    });

    publish(
        &[&kafka(&topic), "--format", "json"],
        format!("{record}\n").as_bytes(),
    );

    let records = kafka_records(&topic);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["key"], "AP8A");
    assert_eq!(records[0]["key_encoding"], "base64");
    assert_eq!(payload(&records[0]), [0xff, 0x00]);
}

// C33: output reaches a pipe at once, and a closed pipe is a normal end.

#[test]
fn sub_flushes_each_message_into_a_pipe_as_it_arrives() {
    let topic = common::fresh("flush");

    let mut sub = subscribe(&[&mqtt(&topic)]);
    publish(&[&mqtt(&topic), "-m", "first"], b"");
    let first = first_line(sub.child.stdout.take().unwrap(), Duration::from_secs(5));
    let still_running = sub.child.try_wait().unwrap().is_none();
    sub.child.kill().unwrap();
    sub.child.wait().unwrap();

    let (line, _) = first.expect("the first message reached the pipe within 5 s");
    assert_eq!(line, "first\n");
    assert!(still_running, "sub exited before the line was read");
}

#[test]
fn sub_exits_0_quietly_when_the_pipe_reader_goes_away() {
    let topic = common::fresh("closed-pipe");

    let mut sub = subscribe(&[&mqtt(&topic)]);
    publish(&[&mqtt(&topic), "-m", "first"], b"");
    let first = first_line(sub.child.stdout.take().unwrap(), Duration::from_secs(5));
    let (line, reader) = first.expect("the first message reached the pipe within 5 s");
    assert_eq!(line, "first\n");
    drop(reader);
    publish(&[&mqtt(&topic), "-m", "second"], b"");

    let output = sub.finish(Duration::from_secs(5));
    assert_quiet_end(&output);
}

#[test]
fn kafka_sub_exits_0_quietly_when_the_pipe_reader_goes_away() {
    let topic = common::kafka_topic("kafka-closed-pipe", 1);

    let mut sub = subscribe(&[&kafka(&topic)]);
    publish(&[&kafka(&topic), "-m", "first"], b"");
    let first = first_line(sub.child.stdout.take().unwrap(), Duration::from_secs(10));
    let (line, reader) = first.expect("the first record reached the pipe within 10 s");
    assert_eq!(line, "first\n");
    drop(reader);
    publish(&[&kafka(&topic), "-m", "second"], b"");

    let output = sub.finish(Duration::from_secs(10));
    assert_quiet_end(&output);
}

#[test]
fn sub_ends_when_its_reader_goes_away_with_nothing_more_to_write() {
    let (topic, kafka_topic) = (
        common::fresh("gone-reader"),
        common::kafka_topic("kafka-gone-reader", 1),
    );
    for (url, limit) in [(mqtt(&topic), 5), (kafka(&kafka_topic), 10)] {
        let mut sub = subscribe(&[&url]);
        publish(&[&url, "-m", "only"], b"");
        let limit = Duration::from_secs(limit);
        let first = first_line(sub.child.stdout.take().unwrap(), limit);
        let (line, reader) = first.expect("the message reached the pipe");
        assert_eq!(line, "only\n");
        drop(reader);

        // Nothing more is published: sub must notice the closed pipe without writing.
        let output = sub.finish(Duration::from_secs(5));
        assert_quiet_end(&output);
    }
}

fn assert_quiet_end(output: &Output) {
    assert_exit(output, 0, "sub after its reader went away");
    let stderr = stderr(output);
    assert!(
        !stderr.contains("panic") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

/// Reads one line from a pipe, waiting at most `limit`; hands the reader back so the test
/// decides when the pipe closes.
fn first_line(stdout: ChildStdout, limit: Duration) -> Option<(String, BufReader<ChildStdout>)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        if reader.read_line(&mut line).is_ok() {
            let _ = tx.send((line, reader));
        }
    });
    rx.recv_timeout(limit).ok()
}

// sub --timeout

#[test]
fn sub_timeout_with_nothing_published_exits_7() {
    let topic = common::fresh("timeout");

    let started = Instant::now();
    let output = common::run(
        &["sub", &mqtt(&topic), "--timeout", "1s"],
        b"",
        Duration::from_secs(10),
    );

    assert_exit(&output, 7, "sub --timeout 1s");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_says(&output, "nothing received for 1s");
    assert_eq!(output.stdout, b"");
}

// C28 and Kafka topics: never created behind the user's back.

#[test]
fn kafka_pub_to_a_missing_topic_exits_5_naming_the_topic() {
    let topic = common::fresh("kafka-missing");

    let started = Instant::now();
    let output = common::run(&["pub", &kafka(&topic), "-m", "x"], b"", LIMIT);

    assert_exit(&output, 5, "pub to a missing Kafka topic");
    assert_within(started, Duration::from_secs(10));
    assert_says(&output, &topic);
    assert_says(&output, "--create-topic");
    assert_eq!(kafka_partitions(&topic), None, "pub created the topic");
}

#[test]
fn kafka_sub_of_a_missing_topic_exits_5_naming_the_topic() {
    let topic = common::fresh("kafka-missing-sub");

    let output = common::run(&["sub", &kafka(&topic), "--from", "beginning"], b"", LIMIT);

    assert_exit(&output, 5, "sub of a missing Kafka topic");
    assert_says(&output, &topic);
}

#[test]
fn kafka_create_topic_creates_it_with_the_partitions_asked_for() {
    let topic = common::fresh("kafka-create");

    publish(
        &[
            &kafka(&topic),
            "-m",
            "hello",
            "-k",
            "KEY",
            "--create-topic",
            "--partitions",
            "3",
        ],
        b"",
    );

    assert_eq!(kafka_partitions(&topic), Some(3));
    let records = kafka_records(&topic);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["payload"], "hello");
    assert_eq!(records[0]["key"], "KEY");
    assert_eq!(records[0]["topic"], topic.as_str());
    let partition = records[0]["partition"]
        .as_i64()
        .expect("a partition number");
    assert!((0..3).contains(&partition), "{}", records[0]);
    assert_eq!(records[0]["offset"], 0);
}

#[test]
fn kafka_key_flag_sets_the_record_key_and_without_it_there_is_none() {
    let topic = common::kafka_topic("kafka-key", 1);

    publish(&[&kafka(&topic), "-m", "keyed", "-k", "sensor-7"], b"");
    publish(&[&kafka(&topic), "-m", "unkeyed"], b"");

    let records = kafka_records(&topic);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["key"], "sensor-7");
    assert!(records[1].get("key").is_none(), "{}", records[1]);
}

// MQTT 3.1.1

#[test]
fn mqtt_3_1_1_pub_and_sub_round_trip() {
    let topic = common::fresh("v311");

    let sub = subscribe(&[&mqtt(&topic), "-V", "3.1.1", "-n", "1", "--format", "json"]);
    publish(&[&mqtt(&topic), "-V", "3.1.1", "-m", "over 3.1.1"], b"");

    let envelopes = envelopes(&received(sub));
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0]["payload"], "over 3.1.1");
    assert_eq!(envelopes[0]["topic"], topic.as_str());
}

// C27: "ready" from the end means nothing published afterwards is missed.

#[test]
fn kafka_sub_from_end_receives_a_record_published_after_ready() {
    let topic = common::kafka_topic("kafka-from-end", 3);
    publish(&[&kafka(&topic), "-m", "before"], b"");

    let sub = subscribe(&[&kafka(&topic), "--from", "end", "-n", "1"]);
    publish(&[&kafka(&topic), "-m", "first"], b"");

    assert_eq!(received(sub), b"first\n");
}

// Several filters or topics in one `sub`, and what cannot be mixed.

#[test]
fn sub_reads_several_mqtt_filters_at_once() {
    let prefix = common::fresh("filters");
    let sub = subscribe(&[
        &mqtt(&format!("{prefix}/a/#")),
        &mqtt(&format!("{prefix}/b")),
        "-n",
        "3",
        "--format",
        "json",
    ]);
    for (topic, message) in [
        ("a/x", "1"),
        ("c", "not matched"),
        ("b", "2"),
        ("a/y/z", "3"),
    ] {
        publish(&[&mqtt(&format!("{prefix}/{topic}")), "-m", message], b"");
    }

    let got: Vec<(String, Vec<u8>)> = envelopes(&received(sub))
        .iter()
        .map(|e| (e["topic"].as_str().unwrap().to_owned(), payload(e)))
        .collect();
    let expected = [("a/x", "1"), ("b", "2"), ("a/y/z", "3")]
        .map(|(topic, message)| (format!("{prefix}/{topic}"), message.as_bytes().to_vec()));
    assert_eq!(got, expected);
}

#[test]
fn kafka_sub_reads_several_topics_to_their_ends() {
    let (one, two) = (
        common::kafka_topic("topics-1", 1),
        common::kafka_topic("topics-2", 2),
    );
    publish(&[&kafka(&one), "-m", "in one"], b"");
    publish(&[&kafka(&two), "-k", "k", "-m", "in two"], b"");

    let args = [
        "sub",
        &kafka(&one),
        &kafka(&two),
        "--from",
        "beginning",
        "--exit",
    ];
    let output = common::run(&[&args[..], &["--format", "json"]].concat(), b"", LIMIT);

    assert_exit(&output, 0, "sub of two Kafka topics with --exit");
    let mut got: Vec<(String, Vec<u8>)> = envelopes(&output.stdout)
        .iter()
        .map(|e| (e["topic"].as_str().unwrap().to_owned(), payload(e)))
        .collect();
    got.sort();
    assert_eq!(got, [(one, b"in one".to_vec()), (two, b"in two".to_vec())]);
}

#[test]
fn sub_refuses_urls_of_two_systems_or_two_brokers() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sub", "mqtt://127.0.0.1:1/a", "kafka://127.0.0.1:1/b"],
            "all URLs must be MQTT, or all Kafka",
        ),
        (
            vec!["sub", "mqtt://127.0.0.1:1/a", "mqtt://127.0.0.1:2/b"],
            "every URL must name the same broker",
        ),
    ];
    assert_usage_errors(&cases);
}

// Helpers

fn mqtt(topic: &str) -> String {
    format!("{}/{topic}", common::mqtt())
}

fn kafka(topic: &str) -> String {
    format!("{}/{topic}", common::kafka())
}

/// Starts `mqk sub` and waits for its `ready` line. `--timeout 20s` ends it by itself if a
/// failing test leaves it waiting.
fn subscribe(args: &[&str]) -> common::Ready {
    common::start(&[&["sub"], args, &["--timeout", "20s"]].concat())
}

/// Everything a subscriber printed, once it exited 0 by itself.
fn received(sub: common::Ready) -> Vec<u8> {
    let output = sub.finish(LIMIT);
    assert_exit(&output, 0, "sub");
    output.stdout
}

/// Reads a subscriber's stdout as it comes, so a large stream never stalls on the pipe.
fn collect(sub: &mut common::Ready) -> thread::JoinHandle<Vec<u8>> {
    let mut stdout = sub.child.stdout.take().unwrap();
    thread::spawn(move || {
        let mut all = Vec::new();
        stdout.read_to_end(&mut all).unwrap();
        all
    })
}

/// Runs `mqk pub` with these arguments and asserts that it exited 0.
fn publish(args: &[&str], stdin: &[u8]) -> Output {
    let output = common::run(&[&["pub"], args].concat(), stdin, LIMIT);
    assert_exit(&output, 0, &format!("pub {}", args.join(" ")));
    output
}

/// Asserts that the command's stderr contains `text`.
fn assert_says(output: &Output, text: &str) {
    let stderr = stderr(output);
    assert!(
        stderr.contains(text),
        "stderr does not say {text:?}:\n{stderr}"
    );
}

/// Asserts that no more than `limit` passed since `started`.
fn assert_within(started: Instant, limit: Duration) {
    let took = started.elapsed();
    assert!(took < limit, "took {took:?}, more than {limit:?}");
}

/// Every record of a Kafka topic, read from the beginning to the end, as envelopes.
fn kafka_records(topic: &str) -> Vec<Value> {
    common::kafka_envelopes(&kafka(topic))
}

/// The partition count of a Kafka topic, `None` if it does not exist.
fn kafka_partitions(topic: &str) -> Option<usize> {
    let settings = mqk::kafka::KafkaSettings {
        brokers: common::kafka().trim_start_matches("kafka://").to_owned(),
        overrides: Vec::new(),
        metadata_timeout: Duration::from_secs(10),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match runtime.block_on(mqk::kafka::ensure_topic(&settings, topic, None)) {
        Ok(partitions) => Some(partitions),
        Err(e) if mqk::exit::code_of(&e) == mqk::exit::Code::NoTopic => None,
        Err(e) => panic!("cannot read metadata of {topic}: {e:#}"),
    }
}

fn payloads(stdout: &[u8]) -> Vec<Vec<u8>> {
    envelopes(stdout).iter().map(payload).collect()
}

/// A file of its own under Cargo's scratch directory for tests, removed when dropped.
struct TempFile(PathBuf);

fn temp_file(name: &str, bytes: &[u8]) -> TempFile {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(common::fresh(name));
    std::fs::write(&path, bytes).unwrap();
    TempFile(path)
}

impl TempFile {
    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// C18, C33: an idle stdin keeps the connection alive; signals end things cleanly.

#[test]
fn pub_keeps_its_connection_alive_while_stdin_is_idle() {
    let topic = common::fresh("pub-idle");
    let sub = subscribe(&[&mqtt(&topic), "-n", "2"]);
    let keep_alive = ["--keep-alive", "1s", "-V", "3.1.1"];
    let mut publisher = common::mqk(&[&["pub", &mqtt(&topic), "-l"][..], &keep_alive].concat())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = publisher.stdin.take().unwrap();
    stdin.write_all(b"before\n").unwrap();
    // Idle for three keep-alive intervals: a client that stopped serving its connection
    // would be disconnected by the broker after one and a half.
    thread::sleep(Duration::from_secs(3));
    stdin.write_all(b"after\n").unwrap();
    drop(stdin);
    let output = common::wait_output(publisher, LIMIT);
    assert_exit(&output, 0, "pub with an idle stdin");
    assert!(
        !stderr(&output).contains("connection lost"),
        "{}",
        stderr(&output)
    );
    assert_eq!(received(sub), b"before\nafter\n");
}

#[test]
fn pub_interrupted_before_its_input_ends_exits_130_after_acknowledgements() {
    let topic = common::fresh("pub-int");
    let mut publisher = common::mqk(&["pub", &mqtt(&topic), "-l"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = publisher.stdin.take().unwrap();
    stdin.write_all(b"one\n").unwrap();
    thread::sleep(Duration::from_secs(1));
    let status = std::process::Command::new("kill")
        .args(["-INT", &publisher.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = common::wait_output(publisher, LIMIT);
    drop(stdin);
    assert_exit(&output, 130, "pub interrupted");
    assert_says(&output, "published 1 message ");
    assert_says(
        &output,
        "interrupted; 0 of 1 messages sent were not acknowledged",
    );
}

#[test]
fn sub_stopped_by_sigint_has_written_every_message_to_its_file() {
    let topic = common::fresh("sub-int");
    let path = std::env::temp_dir().join(common::fresh("sub-int-out"));
    let file = std::fs::File::create(&path).unwrap();
    let sub = common::start_with(common::mqk(&["sub", &mqtt(&topic)]).stdout(file));
    publish(&[&mqtt(&topic), "-l"], b"1\n2\n3\n");
    thread::sleep(Duration::from_millis(500));
    sub.signal("INT");
    let output = sub.finish(LIMIT);
    let written = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_exit(&output, 0, "sub stopped by SIGINT");
    assert_eq!(written, b"1\n2\n3\n");
}

// C05: a bad envelope stops `pub` with exit 8 naming its line; what came before is delivered,
// nothing after it is sent.

#[test]
fn a_bad_envelope_after_good_ones_exits_8_naming_its_line_and_sends_nothing_after_it() {
    let topic = common::fresh("pub-bad-envelope");
    let sub = common::start(&["sub", &mqtt(&topic), "-n", "2", "--timeout", "2s"]);
    let input = b"{\"payload\":\"one\"}\n{\"payload\": tree}\n{\"payload\":\"three\"}\n";
    let output = common::run(&["pub", &mqtt(&topic), "--format", "json"], input, LIMIT);
    assert_exit(&output, 8, "pub with a bad envelope on line 2");
    assert_says(&output, "stdin line 2, column 15");
    // The subscriber waits for a second message that must never come.
    let subscriber = sub.finish(LIMIT);
    assert_exit(
        &subscriber,
        7,
        "sub waiting for anything after the bad line",
    );
    assert_eq!(subscriber.stdout, b"one\n");
}
