//! `mqk bridge` between the test Mosquitto and tansu: every message of the filter reaches
//! Kafka with its bytes unchanged and its MQTT topic as key, in order per topic, through
//! kills, stops and restarts; a missing Kafka topic and bad usage are refused up front.
//!
//! Kafka is read back with `mqk sub --format json`, so these tests also pin the envelope's
//! `payload`, `key` and `partition` fields as the bridge fills them.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::{Child, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::own::KafkaBehindProxy;
use common::proxy::Proxy;
use mqk::audit::{Audit, Counts};

// ---------------------------------------------------------------------------------------------
// Scenario 1: the sensor network's stream.

#[test]
fn sensor_readings_reach_kafka_once_each_byte_identical_keyed_by_topic_in_order_per_sensor() {
    let mqtt_topic = common::fresh("bridge-sensors");
    let kafka_topic = common::kafka_topic("bridge-sensors", 3);
    let fixture = std::fs::read(common::fixture("sensors.ndjson")).expect("the fixture exists");
    let lines: Vec<&[u8]> = fixture
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 600, "the fixture holds 600 readings");
    let bridge = Running::start(&bridge_args(&mqtt_topic, &kafka_topic));

    let published = common::run(
        &["pub", &mqtt_url(&mqtt_topic), "-l", "-q", "1"],
        &fixture,
        Duration::from_secs(60),
    );
    common::assert_success("pub", &published);
    await_kafka(&kafka_topic, Duration::from_secs(60), |records| {
        records.len() >= 600
    });
    stop_bridge(bridge);
    let records = kafka_records(&kafka_topic);

    assert_eq!(records.len(), 600, "records in Kafka after a clean run");
    assert_keys(&records, &[&mqtt_topic]);
    assert_one_partition_per_key(&records);
    let mut audit = Audit::default();
    for line in &lines {
        audit.expect(&sensor_id(line), line);
    }
    for record in &records {
        audit.receive(&sensor_id(&record.payload), &record.payload);
    }
    assert_eq!(audit.streams().count(), 15, "sensors in the fixture");
    assert_eq!(
        audit.total(),
        exactly(600),
        "per sensor: {}",
        per_stream(&audit)
    );
    let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
    assert!(
        payloads == lines,
        "the records are not the fixture's lines in publishing order"
    );
    assert_mosquitto_dropped_nothing();
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: crashes lose nothing and keep each topic's order.

#[test]
fn bridge_killed_twice_mid_stream_loses_nothing_and_keeps_each_topic_in_order() {
    const COUNT: usize = 20_000;
    let base = common::fresh("bridge-kill");
    let topics = [format!("{base}/a"), format!("{base}/b")];
    let kafka_topic = common::kafka_topic("bridge-kill", 3);
    let args = bridge_args(&format!("{base}/#"), &kafka_topic);
    let sequence = sequence(COUNT);
    let mut bridge = Running::start(&args);
    let publishers = topics
        .each_ref()
        .map(|t| PacedPub::start(t, &sequence, 2_000));
    let still_streaming = |when: &str| {
        let feeding = publishers.iter().all(PacedPub::is_running);
        assert!(feeding, "the stream ended before the {when} kill");
    };

    // The first crash lands in the steady stream, and the bridge stays down for a second,
    // so the broker queues a backlog for its session; the second crash lands just after the
    // restarted bridge says ready, while it works through that backlog and the live stream.
    thread::sleep(Duration::from_secs(1));
    still_streaming("first");
    bridge.kill();
    thread::sleep(Duration::from_secs(1));
    bridge = Running::start(&args);
    thread::sleep(Duration::from_millis(150));
    still_streaming("second");
    bridge.kill();
    bridge = Running::start(&args);
    for publisher in publishers {
        common::assert_success("pub", &publisher.finish(Duration::from_secs(60)));
    }
    await_kafka(&kafka_topic, Duration::from_secs(90), |records| {
        topics
            .iter()
            .all(|t| distinct_payloads(records, t) == COUNT)
    });
    let report = stop_bridge(bridge);
    assert!(
        report.dup_flagged > 0,
        "nothing carried the DUP flag after the second kill: {report:?}"
    );
    let records = kafka_records(&kafka_topic);

    let keys: Vec<&str> = topics.iter().map(String::as_str).collect();
    assert_keys(&records, &keys);
    assert_one_partition_per_key(&records);
    let mut audit = Audit::default();
    for topic in &topics {
        for message in &sequence {
            audit.expect(topic, message.as_bytes());
        }
    }
    for record in &records {
        audit.receive(&record.key, &record.payload);
    }
    for (topic, counts) in audit.streams() {
        assert_eq!(
            (counts.delivered, counts.lost()),
            (COUNT, 0),
            "{topic}: {counts}"
        );
        assert_eq!(
            (counts.reordered, counts.unexpected),
            (0, 0),
            "{topic}: {counts}"
        );
    }
    for topic in &topics {
        let numbers = sequence_numbers(&records, topic);
        assert_eq!(
            numbers.first(),
            Some(&0),
            "{topic} starts at the first message"
        );
        assert_eq!(
            skip_ahead(&numbers),
            None,
            "{topic} skips ahead (gap or reorder)"
        );
    }
    assert_mosquitto_dropped_nothing();
}

// ---------------------------------------------------------------------------------------------
// Scenario 5, bridge part: binary payloads.

#[test]
fn binary_payload_of_50_kb_with_nul_and_newlines_arrives_byte_identical() {
    let mqtt_topic = common::fresh("bridge-binary");
    let kafka_topic = common::kafka_topic("bridge-binary", 1);
    let payload = binary_payload(50 * 1024);
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{mqtt_topic}.bin"));
    std::fs::write(&file, &payload).unwrap();
    let bridge = Running::start(&bridge_args(&mqtt_topic, &kafka_topic));

    let published = common::run(
        &[
            "pub",
            &mqtt_url(&mqtt_topic),
            "-f",
            file.to_str().unwrap(),
            "-q",
            "1",
        ],
        b"",
        Duration::from_secs(30),
    );
    common::assert_success("pub", &published);
    let received = common::run(
        &[
            "sub",
            &kafka_url(&kafka_topic),
            "--format",
            "raw",
            "-n",
            "1",
            "--from",
            "beginning",
            "--timeout",
            "30s",
        ],
        b"",
        Duration::from_secs(45),
    );
    stop_bridge(bridge);
    std::fs::remove_file(&file).unwrap();

    common::assert_success("sub", &received);
    assert!(
        received.stdout == payload,
        "Kafka holds {} bytes, first difference at byte {:?}; {} bytes were published",
        received.stdout.len(),
        received
            .stdout
            .iter()
            .zip(&payload)
            .position(|(a, b)| a != b),
        payload.len()
    );
}

// C29: a record Kafka refuses (too large) stops the bridge, naming the topic; the message stays
// with the broker, so a bridge allowed larger records forwards it, and what followed, in order.

#[test]
fn a_message_too_large_for_kafka_stops_the_bridge_and_waits_for_a_bridge_that_takes_it() {
    let mqtt_topic = common::fresh("bridge-too-large");
    let kafka_topic = common::kafka_topic("bridge-too-large", 1);
    let args = bridge_args(&mqtt_topic, &kafka_topic);
    let large = binary_payload(1_500_000);
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{mqtt_topic}.bin"));
    std::fs::write(&file, &large).unwrap();
    let bridge = Running::start(&args);

    let url = mqtt_url(&mqtt_topic);
    for message in [
        &["-m", "before"][..],
        &["-f", file.to_str().unwrap()],
        &["-m", "after"],
    ] {
        let output = common::run(
            &[&["pub", &url, "-q", "1"][..], message].concat(),
            b"",
            Duration::from_secs(30),
        );
        common::assert_success("pub", &output);
    }
    let stopped = bridge.finish(Duration::from_secs(30));
    common::assert_exit(&stopped, 1, "bridge given a record too large for Kafka");
    let said = common::stderr(&stopped);
    assert!(
        said.contains(&format!("MQTT topic '{mqtt_topic}'")) && said.contains("too large"),
        "{said}"
    );
    assert_eq!(payloads(&kafka_records(&kafka_topic)), ["before"]);

    let larger = [
        &args[..],
        &["-X".into(), "message.max.bytes=2000000".into()],
    ]
    .concat();
    let bridge = Running::start(&larger);
    await_kafka(&kafka_topic, Duration::from_secs(30), |records| {
        records.len() >= 3
    });
    stop_bridge(bridge);
    std::fs::remove_file(&file).unwrap();
    let records = kafka_records(&kafka_topic);
    assert_eq!(records.len(), 3, "Kafka holds {} records", records.len());
    assert!(
        records[1].payload == large,
        "the large record came back changed"
    );
    assert_eq!(records[2].payload, b"after");
}

// A bridge that subscribes again on its resumed session must not forward the topic's retained
// message again on MQTT 5: an old value would land in Kafka after newer ones. MQTT 3.1.1 has
// no way to ask for that; there the retained message comes again, and nothing is lost.

#[test]
fn a_restarted_bridge_forwards_a_retained_message_again_only_on_mqtt_3_1_1() {
    for (version, expected) in [
        ("5", &["1", "2", "3", "4"][..]),
        ("3.1.1", &["1", "2", "3", "1", "4"]),
    ] {
        let mqtt_topic = common::fresh("bridge-retained");
        let kafka_topic = common::kafka_topic("bridge-retained", 1);
        let args = [
            &bridge_args(&mqtt_topic, &kafka_topic)[..],
            &["-V".into(), version.into()],
        ]
        .concat();
        let url = mqtt_url(&mqtt_topic);
        let publish = |extra: &[&str]| {
            let output = common::run(
                &[&["pub", &url][..], extra].concat(),
                b"",
                Duration::from_secs(30),
            );
            common::assert_success("pub", &output);
        };

        let bridge = Running::start(&args);
        publish(&["-r", "-m", "1"]);
        publish(&["-m", "2"]);
        publish(&["-m", "3"]);
        await_kafka(&kafka_topic, Duration::from_secs(30), |r| r.len() >= 3);
        stop_bridge(bridge);
        let bridge = Running::start(&args);
        // On 3.1.1 the retained message comes with the SUBACK, before `ready`.
        publish(&["-m", "4"]);
        await_kafka(&kafka_topic, Duration::from_secs(30), |r| {
            r.len() >= expected.len()
        });
        let stopped = bridge.terminate(Duration::from_secs(30));
        common::assert_success("second bridge run", &stopped);

        let got = payloads(&kafka_records(&kafka_topic));
        assert_eq!(got, expected, "MQTT {version}");
        // Cleared, so that no later test sees it.
        publish(&["-r", "-m", ""]);
    }
}

// A session reused under the same -i with another filter still holds the old subscription:
// the bridge forwards only what its own filter matches.

#[test]
fn a_bridge_forwards_only_its_filters_topics_from_a_session_with_another_subscription() {
    let prefix = common::fresh("bridge-reused-id");
    let (old_target, new_target) = (
        common::kafka_topic("bridge-reused-id-a", 1),
        common::kafka_topic("bridge-reused-id-b", 1),
    );
    let id = ["-i".to_owned(), prefix.clone()];
    let old = [&bridge_args(&format!("{prefix}/a/#"), &old_target)[..], &id].concat();
    let new = [&bridge_args(&format!("{prefix}/b/#"), &new_target)[..], &id].concat();
    stop_bridge(Running::start(&old));

    let bridge = Running::start(&new);
    for (topic, message) in [("a/x", "for the old filter"), ("b/x", "for the new filter")] {
        let url = mqtt_url(&format!("{prefix}/{topic}"));
        let output = common::run(&["pub", &url, "-m", message], b"", Duration::from_secs(30));
        common::assert_success("pub", &output);
    }
    await_kafka(&new_target, Duration::from_secs(30), |r| !r.is_empty());
    let stopped = bridge.terminate(Duration::from_secs(30));

    common::assert_success("bridge", &stopped);
    assert!(
        common::stderr(&stopped).contains("bridge skipped 1 message outside"),
        "{}",
        common::stderr(&stopped)
    );
    assert_eq!(
        payloads(&kafka_records(&new_target)),
        ["for the new filter"]
    );
}

// ---------------------------------------------------------------------------------------------
// SIGTERM: drain, report, and leave the rest with the broker.

#[test]
fn sigterm_drains_reports_counts_and_the_next_run_gets_the_rest_without_duplicates() {
    const COUNT: usize = 20_000;
    let mqtt_topic = common::fresh("bridge-sigterm");
    let kafka_topic = common::kafka_topic("bridge-sigterm", 1);
    let args = bridge_args(&mqtt_topic, &kafka_topic);
    let sequence = sequence(COUNT);
    let bridge = Running::start(&args);
    // About as fast as the bridge forwards, so that it is busy, with a backlog at the broker
    // and messages in flight, when the signal comes.
    let publisher = PacedPub::start(&mqtt_topic, &sequence, 10_000);

    thread::sleep(Duration::from_secs(1));
    assert!(
        publisher.is_running(),
        "the stream ended before the SIGTERM"
    );
    let report = stop_bridge(bridge);
    let before_restart = payloads(&kafka_records(&kafka_topic));
    common::assert_success("pub", &publisher.finish(Duration::from_secs(60)));

    assert!(
        report.forwarded > 0,
        "nothing flowed before the SIGTERM: {report:?}"
    );
    assert_eq!(
        report.acknowledged, report.forwarded,
        "forwarded but not acknowledged: {report:?}"
    );
    assert!(
        sequence.get(..report.forwarded) == Some(before_restart.as_slice()),
        "after the stop Kafka holds {} records, not the first {} published, in order",
        before_restart.len(),
        report.forwarded
    );

    let bridge = Running::start(&args);
    await_kafka(&kafka_topic, Duration::from_secs(60), |records| {
        distinct_payloads(records, &mqtt_topic) == COUNT
    });
    stop_bridge(bridge);
    let mut audit = Audit::default();
    for message in &sequence {
        audit.expect(&mqtt_topic, message.as_bytes());
    }
    for record in kafka_records(&kafka_topic) {
        audit.receive(&record.key, &record.payload);
    }
    let counts = audit.total();
    assert_eq!(
        (counts.lost(), counts.reordered, counts.unexpected),
        (0, 0, 0),
        "{counts}"
    );
    // Everything the first run acknowledged stayed acknowledged: a clean stop lets the
    // broker read every PUBACK (and the DISCONNECT) before the connection closes.
    assert_eq!(counts.duplicated, 0, "{counts}");
    assert_mosquitto_dropped_nothing();
}

// C17: two bridges started for one mapping share its client id, and each connection takes the
// session from the other. One of them must give up, naming the id, instead of both fighting on.

#[test]
fn of_two_bridges_on_one_session_one_exits_4_naming_the_client_id_and_the_other_forwards() {
    let mqtt_topic = common::fresh("bridge-twins");
    let kafka_topic = common::kafka_topic("bridge-twins", 1);
    let args = bridge_args(&mqtt_topic, &kafka_topic);
    let mut first = Running::start(&args);
    let mut second = Running::start(&args);

    let deadline = Instant::now() + Duration::from_secs(40);
    let (gave_up, kept_on) = loop {
        if first.has_exited() {
            break (first, second);
        }
        if second.has_exited() {
            break (second, first);
        }
        assert!(
            Instant::now() < deadline,
            "both bridges still take the session from each other after 40 s"
        );
        thread::sleep(Duration::from_millis(100));
    };
    let output = gave_up.finish(Duration::from_secs(10));
    let said = common::stderr(&output);
    common::assert_exit(&output, 4, "the bridge that gave up");
    assert!(
        said.contains("client id 'mqk-bridge-") && said.contains("takes the session"),
        "{said}"
    );

    let lines = sequence(10);
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let publish = common::run(
        &["pub", &mqtt_url(&mqtt_topic), "-l", "-q", "1"],
        input.as_bytes(),
        Duration::from_secs(30),
    );
    common::assert_success("pub", &publish);
    await_kafka(&kafka_topic, Duration::from_secs(30), |records| {
        distinct_payloads(records, &mqtt_topic) == lines.len()
    });
    stop_bridge(kept_on);
}

// ---------------------------------------------------------------------------------------------
// Faults on the links, made by a loopback proxy (C25, C21).

/// The bridge's keep-alive in these tests: an outage longer than 1.5 times this would get a
/// bridge that stops answering pings dropped by Mosquitto.
const KEEP_ALIVE: &str = "5s";

/// The one topic a bridge test creates on its own tansu, through the proxy.
const BRIDGED: &str = "bridged";

/// `mqk bridge` from an MQTT topic to the topic [`BRIDGED`] behind `kafka`'s proxy, creating
/// the topic.
fn proxied_bridge_args(kafka: &KafkaBehindProxy, mqtt_topic: &str, extra: &[&str]) -> Vec<String> {
    let url = kafka.url(BRIDGED);
    let args = ["bridge", &mqtt_url(mqtt_topic), &url, "--create-topic"];
    [&args[..], &["--partitions", "1"], extra]
        .concat()
        .into_iter()
        .map(String::from)
        .collect()
}

#[test]
fn bridge_through_cut_mqtt_connections_forwards_redeliveries_and_keeps_order() {
    const COUNT: usize = 10_000;
    let mqtt_topic = common::fresh("bridge-mqtt-cut");
    let kafka_topic = common::kafka_topic("bridge-mqtt-cut", 1);
    let proxy = Proxy::start(common::address_of(&common::mqtt()));
    let filter_url = format!("mqtt://{}/{mqtt_topic}", proxy.address());
    // The client id follows the URLs; reconnecting through the same proxy keeps the session.
    let args: Vec<String> = ["bridge", &filter_url, &kafka_url(&kafka_topic)]
        .map(String::from)
        .into();
    let sequence = sequence(COUNT);
    let bridge = Running::start(&args);
    let publisher = PacedPub::start(&mqtt_topic, &sequence, 2_000);

    for _ in 0..3 {
        thread::sleep(Duration::from_millis(1200));
        assert!(publisher.is_running(), "the stream ended before a cut");
        proxy.cut();
    }
    common::assert_success("pub", &publisher.finish(Duration::from_secs(60)));
    await_kafka(&kafka_topic, Duration::from_secs(60), |records| {
        distinct_payloads(records, &mqtt_topic) == COUNT
    });
    let output = bridge.terminate(Duration::from_secs(30));

    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(0), "bridge stderr:\n{stderr}");
    let reconnects = stderr.matches("MQTT connection lost, reconnecting").count();
    assert!(
        reconnects >= 3,
        "{reconnects} reconnects for 3 cuts:\n{stderr}"
    );
    let numbers = sequence_numbers(&kafka_records(&kafka_topic), &mqtt_topic);
    assert_eq!(numbers.first(), Some(&0));
    if let Some((i, before, after)) = skip_ahead(&numbers) {
        let around = &numbers[i.saturating_sub(10)..(i + 10).min(numbers.len())];
        panic!("a gap or a reorder at record {i}, {before} then {after}: {around:?}");
    }
    assert_mosquitto_dropped_nothing();
}

#[test]
fn bridge_through_a_20_s_kafka_outage_forwards_everything_in_order_and_stays_connected() {
    const COUNT: usize = 3_000;
    let mqtt_topic = common::fresh("bridge-kafka-outage");
    let kafka = KafkaBehindProxy::start();
    let kafka_url = kafka.url(BRIDGED);
    let args = proxied_bridge_args(&kafka, &mqtt_topic, &["--keep-alive", KEEP_ALIVE]);
    let sequence = sequence(COUNT);
    let bridge = Running::start(&args);
    let publisher = PacedPub::start(&mqtt_topic, &sequence, 300);

    thread::sleep(Duration::from_secs(2));
    kafka.proxy.stall();
    thread::sleep(Duration::from_secs(20));
    kafka.proxy.resume();
    common::assert_success("pub", &publisher.finish(Duration::from_secs(60)));
    await_records(&kafka_url, Duration::from_secs(60), |records| {
        distinct_payloads(records, &mqtt_topic) == COUNT
    });
    let output = bridge.terminate(Duration::from_secs(30));

    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(0), "bridge stderr:\n{stderr}");
    assert!(
        !stderr.contains("connection lost"),
        "the bridge lost its MQTT connection while Kafka was away:\n{stderr}"
    );
    let numbers = sequence_numbers(&records_at(&kafka_url), &mqtt_topic);
    assert_eq!(numbers.first(), Some(&0));
    assert_eq!(skip_ahead(&numbers), None, "a gap or a reorder");
    assert_mosquitto_dropped_nothing();
}

#[test]
fn a_second_sigterm_while_kafka_is_down_stops_the_bridge_at_once_and_loses_nothing() {
    const COUNT: usize = 50;
    let mqtt_topic = common::fresh("bridge-double-term");
    let kafka = KafkaBehindProxy::start();
    let kafka_url = kafka.url(BRIDGED);
    let args = proxied_bridge_args(&kafka, &mqtt_topic, &[]);
    let sequence = sequence(COUNT);
    let bridge = Running::start(&args);

    kafka.proxy.stall();
    let lines = sequence.join("\n") + "\n";
    let published = common::run(
        &["pub", &mqtt_url(&mqtt_topic), "-l", "-q", "1"],
        lines.as_bytes(),
        Duration::from_secs(30),
    );
    common::assert_success("pub", &published);
    thread::sleep(Duration::from_secs(1));
    let ready = bridge.0.as_ref().unwrap();
    ready.signal("TERM");
    thread::sleep(Duration::from_secs(2));
    ready.signal("TERM");
    let started = Instant::now();
    let output = bridge.finish(Duration::from_secs(30));
    let took = started.elapsed();

    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(130), "bridge stderr:\n{stderr}");
    assert!(
        stderr.contains("waiting for Kafka to acknowledge"),
        "the first signal said nothing:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "stopped before Kafka acknowledged {COUNT} messages"
        )),
        "stderr:\n{stderr}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the second signal took {took:?}"
    );

    kafka.proxy.resume();
    let bridge = Running::start(&args);
    await_records(&kafka_url, Duration::from_secs(60), |records| {
        distinct_payloads(records, &mqtt_topic) == COUNT
    });
    stop_bridge(bridge);
    let numbers = sequence_numbers(&records_at(&kafka_url), &mqtt_topic);
    assert_eq!(numbers.first(), Some(&0));
    assert_eq!(skip_ahead(&numbers), None, "a gap or a reorder");
}

// ---------------------------------------------------------------------------------------------
// Refusals before anything is forwarded.

#[test]
fn bridge_refuses_a_missing_kafka_topic_unless_asked_to_create_it() {
    let mqtt_topic = common::fresh("bridge-missing");
    let missing = common::fresh("bridge-missing");
    let args = bridge_args(&mqtt_topic, &missing);

    let started = Instant::now();
    let refused = run_args(&args, Duration::from_secs(30));
    let took = started.elapsed();
    assert_eq!(
        refused.status.code(),
        Some(5),
        "stderr: {}",
        common::stderr(&refused)
    );
    assert!(
        common::stderr(&refused).contains(&missing),
        "the topic is not named: {}",
        common::stderr(&refused)
    );
    assert!(
        took < Duration::from_secs(15),
        "refused only after {took:?}"
    );
    let said_ready = common::stderr(&refused)
        .lines()
        .any(|l| l.starts_with("ready"));
    assert!(!said_ready, "it said ready: {}", common::stderr(&refused));

    let mut create = args.clone();
    create.push("--create-topic".into());
    let bridge = Running::start(&create);
    let published = common::run(
        &["pub", &mqtt_url(&mqtt_topic), "-m", "into a created topic"],
        b"",
        Duration::from_secs(30),
    );
    common::assert_success("pub", &published);
    await_kafka(&missing, Duration::from_secs(30), |records| {
        !records.is_empty()
    });
    stop_bridge(bridge);
    assert_eq!(payloads(&kafka_records(&missing)), ["into a created topic"]);
}

#[test]
fn bridge_rejects_qos_2_and_a_kafka_source_as_usage_errors() {
    // The Kafka topic does not exist: a bridge that connected before judging its arguments
    // would exit 5, not 2.
    let mqtt = mqtt_url(&common::fresh("bridge-usage"));
    let kafka = kafka_url(&common::fresh("bridge-usage"));

    let qos2 = run_args(
        &[
            "bridge".into(),
            "-q".into(),
            "2".into(),
            mqtt.clone(),
            kafka.clone(),
        ],
        Duration::from_secs(10),
    );
    assert_eq!(
        qos2.status.code(),
        Some(2),
        "stderr: {}",
        common::stderr(&qos2)
    );
    assert!(
        common::stderr(&qos2)
            .to_lowercase()
            .contains("qos 2 is not supported"),
        "stderr: {}",
        common::stderr(&qos2)
    );

    let reversed = run_args(
        &["bridge".into(), kafka.clone(), mqtt],
        Duration::from_secs(10),
    );
    assert_eq!(
        reversed.status.code(),
        Some(2),
        "stderr: {}",
        common::stderr(&reversed)
    );
    assert!(
        common::stderr(&reversed).contains(&kafka),
        "the URL is not named: {}",
        common::stderr(&reversed)
    );
}

// ---------------------------------------------------------------------------------------------
// Running the bridge.

fn mqtt_url(topic: &str) -> String {
    format!("{}/{topic}", common::mqtt())
}

fn kafka_url(topic: &str) -> String {
    format!("{}/{topic}", common::kafka())
}

fn bridge_args(filter: &str, kafka_topic: &str) -> Vec<String> {
    vec!["bridge".into(), mqtt_url(filter), kafka_url(kafka_topic)]
}

fn run_args(args: &[String], limit: Duration) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run(&args, b"", limit)
}

/// A started `mqk` that is killed when the test ends, however it ends.
struct Running(Option<common::Ready>);

impl Running {
    /// Starts `mqk` and waits for its `ready` line.
    fn start(args: &[String]) -> Self {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Running(Some(common::start(&args)))
    }

    /// SIGKILL: a crash, with no chance to acknowledge or flush anything.
    fn kill(&mut self) {
        drop(self.0.take());
    }

    fn terminate(mut self, limit: Duration) -> Output {
        self.0.take().unwrap().terminate(limit)
    }

    fn has_exited(&mut self) -> bool {
        let ready = self.0.as_mut().unwrap();
        ready.child.try_wait().unwrap().is_some()
    }

    /// Waits for the exit, at most `limit`.
    fn finish(mut self, limit: Duration) -> Output {
        self.0.take().unwrap().finish(limit)
    }
}

/// What the bridge said it did when it stopped.
#[derive(Debug)]
struct Report {
    forwarded: usize,
    /// Of those, how many carried the DUP flag: redeliveries, and with Mosquitto also first
    /// deliveries of messages queued while the bridge was away.
    dup_flagged: usize,
    acknowledged: usize,
}

/// Stops the bridge with SIGTERM: it exits 0 and reports its counts.
fn stop_bridge(bridge: Running) -> Report {
    let output = bridge.terminate(Duration::from_secs(30));
    assert_eq!(
        output.status.code(),
        Some(0),
        "bridge after SIGTERM; stderr:\n{}",
        common::stderr(&output)
    );
    let text = common::stderr(&output);
    let line = text
        .lines()
        .find(|l| l.starts_with("bridge stopped:"))
        .unwrap_or_else(|| panic!("no 'bridge stopped:' line; stderr:\n{text}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [forwarded, dup_flagged, acknowledged] if line.contains("carried the DUP flag") => Report {
            forwarded,
            dup_flagged,
            acknowledged,
        },
        _ => panic!("the stop line does not hold three counts, one 'carried the DUP flag': {line}"),
    }
}

/// `mqk pub -l -q 1` fed lines at a steady rate from a thread, so that a stream is still
/// flowing while the test acts on the bridge. Killed when the test ends.
struct PacedPub {
    child: Option<Child>,
    feeder: Option<thread::JoinHandle<()>>,
}

impl PacedPub {
    fn start(topic: &str, lines: &[String], per_second: usize) -> Self {
        let mut child = common::mqk(&["pub", &mqtt_url(topic), "-l", "-q", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mqk starts");
        let mut stdin = child.stdin.take().unwrap();
        // Small steps, so that the flow has no pauses in which nothing is in flight.
        let chunks: Vec<String> = lines
            .chunks((per_second / 100).max(1))
            .map(|chunk| chunk.join("\n") + "\n")
            .collect();
        let feeder = thread::spawn(move || {
            for chunk in chunks {
                if stdin.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        });
        PacedPub {
            child: Some(child),
            feeder: Some(feeder),
        }
    }

    /// Whether lines are still being fed to `pub`.
    fn is_running(&self) -> bool {
        !self.feeder.as_ref().unwrap().is_finished()
    }

    /// Waits for the feeder to end its input and for `pub` to exit.
    fn finish(mut self, limit: Duration) -> Output {
        self.feeder.take().unwrap().join().unwrap();
        common::wait_output(self.child.take().unwrap(), limit)
    }
}

impl Drop for PacedPub {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Mosquitto kept every message: its dropped counter is 0 once the last second's count is
/// published (the test configuration publishes `$SYS` every second).
fn assert_mosquitto_dropped_nothing() {
    thread::sleep(Duration::from_secs(2));
    assert_eq!(common::mosquitto_dropped(), 0, "messages Mosquitto dropped");
}

// ---------------------------------------------------------------------------------------------
// Reading Kafka back.

/// One Kafka record as `mqk sub --format json` printed it.
#[derive(Debug)]
struct Record {
    payload: Vec<u8>,
    key: String,
    partition: i64,
}

/// Every record of `topic` on the test tansu, partition by partition in offset order.
fn kafka_records(topic: &str) -> Vec<Record> {
    records_at(&kafka_url(topic))
}

/// Every record behind a `kafka://` URL.
fn records_at(url: &str) -> Vec<Record> {
    common::kafka_envelopes(url).iter().map(record).collect()
}

fn record(envelope: &serde_json::Value) -> Record {
    let key = common::field_bytes(envelope, "key").unwrap_or_else(|| panic!("no key: {envelope}"));
    Record {
        payload: common::payload(envelope),
        key: String::from_utf8(key)
            .unwrap_or_else(|_| panic!("the key is not a topic: {envelope}")),
        partition: envelope["partition"]
            .as_i64()
            .unwrap_or_else(|| panic!("no partition: {envelope}")),
    }
}

/// Reads `topic` until `done` holds, at most `limit`; a bridge forwards after `pub` exits.
fn await_kafka(topic: &str, limit: Duration, done: impl Fn(&[Record]) -> bool) {
    await_records(&kafka_url(topic), limit, done);
}

/// [`await_kafka`] for any `kafka://` URL.
fn await_records(url: &str, limit: Duration, done: impl Fn(&[Record]) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        let records = records_at(url);
        if done(&records) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Kafka has {} records after {limit:?}",
            records.len()
        );
        thread::sleep(Duration::from_millis(500));
    }
}

fn payloads(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect()
}

fn distinct_payloads(records: &[Record], key: &str) -> usize {
    records
        .iter()
        .filter(|r| r.key == key)
        .map(|r| &r.payload)
        .collect::<HashSet<_>>()
        .len()
}

fn assert_keys(records: &[Record], expected: &[&str]) {
    let strangers: HashSet<&str> = records
        .iter()
        .map(|r| r.key.as_str())
        .filter(|k| !expected.contains(k))
        .collect();
    assert!(
        strangers.is_empty(),
        "keys other than the MQTT topics {expected:?}: {strangers:?}"
    );
}

/// Every message of one MQTT topic lands in one partition, which is what keeps its order.
fn assert_one_partition_per_key(records: &[Record]) {
    let mut partitions: BTreeMap<&str, HashSet<i64>> = BTreeMap::new();
    for record in records {
        partitions
            .entry(&record.key)
            .or_default()
            .insert(record.partition);
    }
    for (key, partitions) in partitions {
        assert_eq!(
            partitions.len(),
            1,
            "key {key} is spread over partitions {partitions:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What is sent, and how it is judged.

/// Payloads that sort as they were sent: zero-padded sequence numbers.
fn sequence(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{n:06}")).collect()
}

fn sequence_numbers(records: &[Record], key: &str) -> Vec<u64> {
    records
        .iter()
        .filter(|r| r.key == key)
        .map(|r| {
            String::from_utf8_lossy(&r.payload)
                .parse()
                .expect("a sequence number")
        })
        .collect()
}

/// The first place where a sequence jumps past the next number, as (index, before, after).
///
/// At least once allows going back and replaying what was already seen (a redelivery after a
/// crash), one number at a time; it never allows skipping ahead, which is a gap or a reorder.
fn skip_ahead(numbers: &[u64]) -> Option<(usize, u64, u64)> {
    numbers
        .windows(2)
        .position(|pair| pair[1] > pair[0] + 1)
        .map(|i| (i + 1, numbers[i], numbers[i + 1]))
}

#[test]
fn skip_ahead_allows_replayed_runs_and_catches_gaps_and_reorders() {
    assert_eq!(skip_ahead(&[0, 1, 2, 3, 1, 2, 3, 4, 0, 1]), None);
    assert_eq!(skip_ahead(&[0, 1, 3, 4]), Some((2, 1, 3)));
    assert_eq!(skip_ahead(&[0, 2, 1, 3]), Some((1, 0, 2)));
}

fn sensor_id(reading: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(reading)
        .ok()
        .and_then(|v| v["sensor_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "(not a reading)".into())
}

/// Counts of a stream received exactly once, in order.
fn exactly(count: usize) -> Counts {
    Counts {
        expected: count,
        delivered: count,
        ..Counts::default()
    }
}

fn per_stream(audit: &Audit) -> String {
    audit
        .streams()
        .map(|(name, counts)| format!("\n  {name}: {counts}"))
        .collect()
}

/// Bytes that are not UTF-8 and hold NUL, LF and CR LF: nothing may treat them as text.
fn binary_payload(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for at in [0, 1_000, len / 2, len - 7] {
        bytes[at..at + 7].copy_from_slice(b"\0\n\r\n\0\xff\xfe");
    }
    assert!(std::str::from_utf8(&bytes).is_err());
    bytes
}
