//! The record envelope on real brokers: every field `sub --format json` writes is one that
//! `pub --format json` sends again, so a pipe between the two reproduces records exactly.
//! Kafka keys, headers (repeated names, null and empty values), null and empty values and
//! timestamps against tansu; MQTT 5 properties, QoS and retained messages against Mosquitto,
//! copied to a second Mosquitto; and records that carry their own topics when the URL names
//! none.

mod common;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use common::own::{self, OwnBroker};
use common::{assert_exit, envelopes};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn kafka_keys_headers_and_timestamps_survive_a_sub_json_into_pub_json_pipe() {
    let (a, b) = (
        common::kafka_topic("envelope-a", 1),
        common::kafka_topic("envelope-b", 1),
    );
    let written = [
        json!({
            "key": "sensor-1", "payload": "21.5", "timestamp": 1_700_000_000_123_i64,
            "headers": [
                {"name": "unit", "value": "C"}, {"name": "unit", "value": "celsius"},
                {"name": "null", "value": null}, {"name": "empty", "value": ""},
                {"name": "bin", "value": "AP8K", "value_encoding": "base64"},
            ],
        }),
        json!({"payload": "", "timestamp": 1_700_000_000_124_i64}),
        json!({"key": "AP8=", "key_encoding": "base64", "timestamp": 1_700_000_000_125_i64}),
        json!({"key": "", "payload": "/wAK", "payload_encoding": "base64",
               "timestamp": 1_700_000_000_126_i64}),
    ];
    let lines: String = written.iter().map(|r| format!("{r}\n")).collect();
    publish(&[&kafka(&a), "--format", "json"], lines.as_bytes());

    let read_a = kafka_records(&a);
    assert_eq!(without_position(&read_a, &a), written);

    let url_a = kafka(&a);
    let mut from_a = common::mqk(&common::read_to_end(&url_a))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mqk starts");
    let to_b = common::mqk(&["pub", &kafka(&b), "--format", "json"])
        .stdin(Stdio::from(from_a.stdout.take().unwrap()))
        .output()
        .expect("mqk runs");
    assert_exit(&common::wait_output(from_a, LIMIT), 0, "sub of topic A");
    assert_exit(&to_b, 0, "pub --format json into topic B");

    assert_eq!(without_position(&kafka_records(&b), &b), written);
}

#[test]
fn mqtt_5_properties_qos_and_retained_messages_copy_to_another_broker_through_json() {
    let prefix = common::fresh("envelope");
    let properties = json!({
        "payload_format_indicator": 1, "message_expiry_interval": 3600,
        "content_type": "text/plain", "response_topic": format!("{prefix}/reply"),
        "correlation_data": "AP8=", "correlation_data_encoding": "base64",
        "user_properties": [["unit", "C"], ["unit", "celsius"], ["empty", ""]],
    });
    let written = [
        json!({"topic": format!("{prefix}/a"), "payload": "21.5", "qos": 1, "retain": true,
               "properties": properties}),
        json!({"topic": format!("{prefix}/b"), "payload": "AP8K", "payload_encoding": "base64",
               "qos": 2, "retain": true}),
    ];
    let lines: String = written.iter().map(|r| format!("{r}\n")).collect();
    publish(&[&common::mqtt(), "--format", "json"], lines.as_bytes());
    let filter = format!("{prefix}/#");
    let first = retained(&common::mqtt(), &filter, 2);
    assert_eq!(comparable(&first), written);

    let other = second_mosquitto();
    let mut copy = common::start(&[
        "sub",
        &format!("{}/{filter}", common::mqtt()),
        "-q",
        "2",
        "-n",
        "2",
        "--format",
        "json",
    ]);
    let to_other = common::mqk(&["pub", &other.mqtt(), "--format", "json"])
        .stdin(Stdio::from(copy.child.stdout.take().unwrap()))
        .output()
        .expect("mqk runs");
    assert_exit(&copy.finish(LIMIT), 0, "sub of the first broker");
    assert_exit(&to_other, 0, "pub --format json into the second broker");

    let second = retained(&other.mqtt(), &filter, 2);
    assert_eq!(comparable(&second), written);
}

#[test]
fn pub_json_without_a_topic_in_the_url_sends_each_record_to_its_own_topic() {
    let prefix = common::fresh("own-topic");
    let (k1, k2) = (
        common::kafka_topic("own-topic-1", 1),
        common::kafka_topic("own-topic-2", 1),
    );
    let sub = common::start(&[
        "sub",
        &format!("{}/{prefix}/#", common::mqtt()),
        "-n",
        "3",
        "--format",
        "json",
    ]);
    let mqtt_records = format!(
        "{}\n{}\n{}\n",
        json!({"topic": format!("{prefix}/1"), "payload": "one"}),
        json!({"topic": format!("{prefix}/2"), "payload": "two"}),
        json!({"topic": format!("{prefix}/1"), "payload": "three"}),
    );
    publish(
        &[&common::mqtt(), "--format", "json"],
        mqtt_records.as_bytes(),
    );
    let kafka_lines = format!(
        "{}\n{}\n{}\n",
        json!({"topic": k1, "payload": "one"}),
        json!({"topic": k2, "payload": "two"}),
        json!({"topic": k1, "payload": "three"}),
    );
    publish(
        &[&common::kafka(), "--format", "json"],
        kafka_lines.as_bytes(),
    );

    let output = sub.finish(LIMIT);
    assert_exit(&output, 0, "sub of the prefix");
    let got: Vec<(String, String)> = envelopes(&output.stdout)
        .iter()
        .map(|e| {
            (
                e["topic"].as_str().unwrap().into(),
                e["payload"].as_str().unwrap().into(),
            )
        })
        .collect();
    let p = |n: &str, payload: &str| (format!("{prefix}/{n}"), payload.to_owned());
    assert_eq!(got, [p("1", "one"), p("2", "two"), p("1", "three")]);
    let payloads = |topic: &str| -> Vec<String> {
        kafka_records(topic)
            .iter()
            .map(|e| e["payload"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(payloads(&k1), ["one", "three"]);
    assert_eq!(payloads(&k2), ["two"]);
}

#[test]
fn a_record_without_a_topic_when_the_url_names_none_exits_8_naming_its_line() {
    let prefix = common::fresh("no-topic");
    let lines = format!(
        "{}\n{}\n",
        json!({"topic": format!("{prefix}/1"), "payload": "one"}),
        json!({"payload": "two"}),
    );
    let output = common::run(
        &["pub", &common::mqtt(), "--format", "json"],
        lines.as_bytes(),
        LIMIT,
    );
    assert_exit(&output, 8, "pub of a record without a topic");
    let stderr = common::stderr(&output);
    assert!(
        stderr.contains("line 2") && stderr.contains("no topic"),
        "{stderr}"
    );
}

fn kafka(topic: &str) -> String {
    format!("{}/{topic}", common::kafka())
}

fn publish(args: &[&str], stdin: &[u8]) {
    let output = common::run(&[&["pub"], args].concat(), stdin, LIMIT);
    assert_exit(&output, 0, &format!("pub {}", args.join(" ")));
}

fn kafka_records(topic: &str) -> Vec<Value> {
    common::kafka_envelopes(&kafka(topic))
}

/// Kafka envelopes without what the broker assigns (partition and offset) and with the topic
/// checked and left out, so records of two topics compare.
fn without_position(records: &[Value], topic: &str) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let fields = r.as_object_mut().unwrap();
            assert_eq!(fields.remove("topic"), Some(json!(topic)));
            assert!(fields.remove("partition").is_some(), "no partition: {r}");
            assert!(fields.remove("offset").is_some(), "no offset");
            r
        })
        .collect()
}

/// The `count` retained messages a new MQTT 5 subscription to `filter` is sent, in topic order.
fn retained(broker: &str, filter: &str, count: usize) -> Vec<Value> {
    let url = format!("{broker}/{filter}");
    let count = count.to_string();
    let args = ["sub", &url, "-q", "2", "-n", &count, "--format", "json"];
    let output = common::run(&args, b"", LIMIT);
    assert_exit(&output, 0, &format!("sub of {url}"));
    let mut records = envelopes(&output.stdout);
    records.sort_by(|a, b| a["topic"].as_str().cmp(&b["topic"].as_str()));
    records
}

/// MQTT envelopes without the time `mqk` received them. A broker sends the message expiry
/// interval that is left, so it is checked to be at most a minute less and then set back.
fn comparable(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let fields = r.as_object_mut().unwrap();
            assert!(fields.remove("timestamp").is_some(), "no timestamp: {r}");
            if let Some(expiry) = r.pointer_mut("/properties/message_expiry_interval") {
                let left = expiry.as_u64().expect("a number of seconds");
                assert!(
                    (3540..=3600).contains(&left),
                    "expiry interval left: {left}"
                );
                *expiry = json!(3600);
            }
            r
        })
        .collect()
}

/// A second, empty Mosquitto that allows anonymous clients.
fn second_mosquitto() -> OwnBroker {
    own::mosquitto(&own::directory("second"), "allow_anonymous true\n")
}
