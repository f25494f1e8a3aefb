//! `mqtts://` against a Mosquitto with TLS listeners (case C35): the broker's CA given with
//! `--cafile` carries messages on both MQTT versions and through the bridge; a certificate
//! for another name or from an untrusted CA fails with the reason; a certificate with the IP
//! address works when connecting by IP; a `--cafile` that is missing or holds no certificate
//! is refused before connecting.
//!
//! The certificates are made for each test with the `openssl` command line tool, in the
//! directory of the test's own Mosquitto.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::own::{self, OwnBroker};
use common::{assert_exit, stderr};

const LIMIT: Duration = Duration::from_secs(30);

/// A Mosquitto with two TLS listeners on loopback: `by_name` presents a certificate for
/// `localhost` only, `by_address` one for the IP address 127.0.0.1; both are signed by the CA
/// in `ca`. `other_ca` signed neither.
struct TlsBroker {
    broker: OwnBroker,
    by_address: u16,
    ca: PathBuf,
    other_ca: PathBuf,
}

impl TlsBroker {
    fn start() -> TlsBroker {
        let dir = own::directory("tls");
        let ca = certificate_authority(&dir, "ca");
        let other_ca = certificate_authority(&dir, "other-ca");
        server_certificate(&dir, "by-name", "DNS:localhost");
        server_certificate(&dir, "by-address", "IP:127.0.0.1");
        let by_address = own::free_port();
        let files = |name: &str| {
            format!(
                "certfile {0}/{name}.pem\nkeyfile {0}/{name}.key\n",
                dir.display()
            )
        };
        let config = format!(
            "{}allow_anonymous true\nlistener {by_address} 127.0.0.1\n{}",
            files("by-name"),
            files("by-address"),
        );
        let broker = own::mosquitto(&dir, &config);
        TlsBroker {
            broker,
            by_address,
            ca,
            other_ca,
        }
    }

    /// `mqtts://localhost:PORT/TOPIC` of the listener whose certificate names `localhost`.
    fn by_name(&self, topic: &str) -> String {
        format!("mqtts://localhost:{}/{topic}", self.broker.port())
    }

    fn ca(&self) -> &str {
        self.ca.to_str().unwrap()
    }
}

#[test]
fn the_brokers_ca_carries_messages_over_tls_on_mqtt_5_and_3_1_1() {
    let tls = TlsBroker::start();
    let topic = tls.by_name("readings");

    let sub = common::start(&["sub", &topic, "--cafile", tls.ca(), "-n", "2"]);
    let v5 = run(&["pub", &topic, "--cafile", tls.ca(), "-m", "over v5"]);
    let v3 = run(&[
        "pub",
        &topic,
        "--cafile",
        tls.ca(),
        "-V",
        "3.1.1",
        "-m",
        "over 3.1.1",
    ]);

    assert_exit(&v5, 0, "pub over TLS, MQTT 5");
    assert_exit(&v3, 0, "pub over TLS, MQTT 3.1.1");
    let output = sub.finish(LIMIT);
    assert_exit(&output, 0, "sub over TLS");
    assert_eq!(output.stdout, b"over v5\nover 3.1.1\n");
}

#[test]
fn a_certificate_for_another_name_exits_3_naming_both_names() {
    let tls = TlsBroker::start();
    let url = format!("mqtts://127.0.0.1:{}/t", tls.broker.port());

    let output = run(&["pub", &url, "--cafile", tls.ca(), "-m", "x"]);

    assert_exit(
        &output,
        3,
        "pub to a certificate for localhost, by IP address",
    );
    let said = stderr(&output);
    assert!(
        said.contains("not valid for name \"127.0.0.1\"") && said.contains("localhost"),
        "{said}"
    );
}

#[test]
fn a_certificate_for_the_ip_address_works_when_connecting_by_it() {
    let tls = TlsBroker::start();
    let url = format!("mqtts://127.0.0.1:{}/t", tls.by_address);

    let output = run(&["pub", &url, "--cafile", tls.ca(), "-m", "x"]);

    assert_exit(
        &output,
        0,
        "pub to a certificate for 127.0.0.1, by IP address",
    );
}

#[test]
fn a_certificate_from_an_untrusted_ca_exits_3_saying_so() {
    let tls = TlsBroker::start();
    let other = tls.other_ca.to_str().unwrap();

    for extra in [&["--cafile", other][..], &[]] {
        let output = run(&[&["pub", &tls.by_name("t"), "-m", "x"], extra].concat());

        assert_exit(&output, 3, &format!("pub with {extra:?}"));
        let said = stderr(&output);
        assert!(
            said.contains("not signed by a CA this client trusts"),
            "{said}"
        );
    }
}

#[test]
fn a_cafile_that_is_missing_or_holds_no_usable_certificate_exits_8_before_connecting() {
    let dir = own::directory("cafile");
    let not_pem = dir.join("notes.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let garbled = dir.join("garbled.pem");
    std::fs::write(
        &garbled,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = dir.join("missing.pem");
    // Nothing listens there: connecting would end with exit 3 instead.
    let url = format!("mqtts://127.0.0.1:{}/t", own::free_port());

    for (file, says) in [
        (&missing, "cannot read --cafile"),
        (&not_pem, "no PEM certificate"),
        (&garbled, "no certificate that parses"),
    ] {
        let output = run(&["pub", &url, "--cafile", file.to_str().unwrap(), "-m", "x"]);

        assert_exit(&output, 8, &format!("pub with --cafile {}", file.display()));
        assert!(stderr(&output).contains(says), "{}", stderr(&output));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_bridge_forwards_from_a_tls_listener() {
    let tls = TlsBroker::start();
    let kafka_topic = common::kafka_topic("tls-bridge", 1);
    let kafka_url = format!("{}/{kafka_topic}", common::kafka());
    let bridge = common::start(&[
        "bridge",
        &tls.by_name("tls/#"),
        &kafka_url,
        "--cafile",
        tls.ca(),
    ]);

    let lines = b"one\ntwo\nthree\n";
    let output = common::run(
        &["pub", &tls.by_name("tls/a"), "--cafile", tls.ca(), "-l"],
        lines,
        LIMIT,
    );
    assert_exit(&output, 0, "pub -l over TLS");
    let read = common::run(
        &[
            "sub",
            &kafka_url,
            "--from",
            "beginning",
            "-n",
            "3",
            "--timeout",
            "20s",
        ],
        b"",
        LIMIT,
    );
    assert_exit(&bridge.terminate(LIMIT), 0, "bridge stopped by SIGTERM");

    assert_exit(&read, 0, "sub of the bridge's Kafka topic");
    assert_eq!(read.stdout, lines);
}

fn run(args: &[&str]) -> std::process::Output {
    common::run(args, b"", LIMIT)
}

/// A self-signed CA in `dir`: `NAME.pem` and `NAME.key`. Returns the certificate's path.
fn certificate_authority(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=mqk test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A server certificate in `dir` signed by `ca`, valid only for `subject_alt_name`.
fn server_certificate(dir: &Path, name: &str, subject_alt_name: &str) {
    let key = format!("{name}.key");
    let request = format!("{name}.csr");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=mqk test server",
            "-keyout",
            &key,
            "-out",
            &request,
        ],
    );
    let extensions = format!("{name}.ext");
    std::fs::write(
        dir.join(&extensions),
        format!("subjectAltName={subject_alt_name}\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &request,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            &extensions,
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (make test installs it)");
    assert_exit(&output, 0, &format!("openssl {}", args.join(" ")));
}
