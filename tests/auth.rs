//! Refusals by the broker must not look like success (cases C32 and C34): a bad password or
//! an ACL denial ends `mqk` with exit code 4 and the broker's reason on stderr.
//!
//! Most of these tests need a Mosquitto with a password file and an ACL, so they start their
//! own on a free loopback port (the shared test broker allows anonymous clients) and stop it
//! by PID.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::own::{self, OwnBroker};
use common::stderr;

const LIMIT: Duration = Duration::from_secs(20);

/// A Mosquitto with user `alice` (password `secret`), who may write `open/#` and only read
/// `deny/#`. Stopped when dropped.
fn guarded_broker() -> OwnBroker {
    let dir = own::directory("auth");
    let passwords = dir.join("passwords");
    let status = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwords)
        .args(["alice", "secret"])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(status.success());
    std::fs::write(
        dir.join("acl"),
        "user alice\ntopic readwrite open/#\ntopic read deny/#\n",
    )
    .unwrap();
    own::mosquitto(
        &dir,
        &format!(
            "allow_anonymous false\npassword_file {}\nacl_file {}\n",
            passwords.display(),
            dir.join("acl").display()
        ),
    )
}

fn run(args: &[&str]) -> Output {
    common::run(args, b"", LIMIT)
}

#[test]
fn a_wrong_password_exits_4_with_the_brokers_reason() {
    let broker = guarded_broker();
    let url = format!("{}/open/x", broker.mqtt());
    for version in ["5", "3.1.1"] {
        let output = run(&[
            "pub",
            &url,
            "-m",
            "x",
            "-u",
            "alice",
            "--password",
            "wrong",
            "-V",
            version,
        ]);
        assert_eq!(
            output.status.code(),
            Some(4),
            "MQTT {version}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("refused the connection: not authorized"),
            "{}",
            stderr(&output)
        );
        let output = run(&[
            "sub",
            &url,
            "-u",
            "alice",
            "--password",
            "wrong",
            "-V",
            version,
        ]);
        assert_eq!(
            output.status.code(),
            Some(4),
            "sub, MQTT {version}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn the_right_password_publishes() {
    let broker = guarded_broker();
    let url = format!("{}/open/x", broker.mqtt());
    let output = run(&[
        "pub",
        &url,
        "-m",
        "x",
        "-u",
        "alice",
        "--password",
        "secret",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Mosquitto refuses a publish to `$SYS` with 0x87 and closes the connection at once, so the
/// refusal and the end of the connection arrive together. rumqttc had read the PUBACK when the
/// connection failed; it must still be reported, not lost with that connection's event loop
/// (which left `pub` waiting for ever in most runs).
#[test]
fn a_refusal_that_arrives_with_the_end_of_the_connection_still_exits_4() {
    let url = format!("{}/$SYS/mqk-test", common::mqtt());
    for run_number in 1..=10 {
        let output = common::run(&["pub", &url, "-m", "x"], b"", Duration::from_secs(10));
        assert_eq!(
            output.status.code(),
            Some(4),
            "run {run_number}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).contains("not authorized (0x87)"));
    }
    // A stream: the broker closes the connection at each refusal, so reconnects end it; the
    // refusal still decides the exit code and comes first in the message.
    let lines: String = (1..=10).map(|n| format!("{n}\n")).collect();
    let output = common::run(&["pub", &url, "-l"], lines.as_bytes(), LIMIT);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(first: the broker refused a message: not authorized (0x87))"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_acl_denied_publish_on_mqtt_5_exits_4_naming_reason_0x87() {
    let broker = guarded_broker();
    let url = format!("{}/deny/x", broker.mqtt());
    for qos in ["1", "2"] {
        let output = run(&[
            "pub",
            &url,
            "-m",
            "x",
            "-q",
            qos,
            "-u",
            "alice",
            "--password",
            "secret",
        ]);
        assert_eq!(
            output.status.code(),
            Some(4),
            "QoS {qos}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("not authorized (0x87)"),
            "{}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("1 of 1 messages"),
            "{}",
            stderr(&output)
        );
    }
}

/// MQTT 3.1.1 has no way to refuse a publish; Mosquitto acknowledges and drops it. This pins
/// the documented limit: exit 0, because nothing told `mqk` otherwise.
#[test]
fn an_acl_denied_publish_on_mqtt_3_1_1_cannot_be_noticed() {
    let broker = guarded_broker();
    let url = format!("{}/deny/x", broker.mqtt());
    let output = run(&[
        "pub",
        &url,
        "-m",
        "x",
        "-V",
        "3.1.1",
        "-u",
        "alice",
        "--password",
        "secret",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}
