//! `mqk pub` through broker faults made by a loopback proxy between it and the test
//! Mosquitto: a broker that stops answering, connections cut mid-stream (a restart), and a
//! broker that stays away. Every line is delivered at least once and in order, and `pub`
//! exits 0; or, when it cannot reconnect, it exits non-zero saying what was not delivered. It
//! never keeps running while sending nothing (C24, C21). And a broker that refuses what `pub`
//! sends, packets over its size limit, ends `pub` in bounded time without a reconnect loop
//! (C20). A Kafka `sub` keeps reading after its cluster was away.

mod common;

use std::io::Write;
use std::process::{Child, ChildStdin, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::own;
use common::proxy::Proxy;
use mqk::audit::Audit;

/// The keep-alive `pub` runs with here, so that a silent broker is noticed in seconds.
const KEEP_ALIVE: &str = "5s";

#[test]
fn pub_through_a_stalled_broker_reconnects_and_delivers_every_line_in_order() {
    let topic = common::fresh("fault-stall");
    let proxy = Proxy::start(common::address_of(&common::mqtt()));
    let sub = Collector::start(&topic, "25s");
    let mut publisher = Publisher::start(&proxy, &topic, &[]);

    publisher.write(1..=1000);
    thread::sleep(Duration::from_millis(500));
    proxy.stall();
    publisher.write(1001..=2000);
    // Longer than two keep-alive intervals: rumqttc gives up on the silent connection and
    // its reconnects hang on the stalled proxy too.
    thread::sleep(Duration::from_secs(12));
    proxy.resume();
    let output = publisher.finish(Duration::from_secs(60));

    common::assert_success("pub through a stalled broker", &output);
    sub.assert_in_order(&topic, 2000);
}

#[test]
fn pub_through_three_cut_connections_delivers_every_line_in_order() {
    let topic = common::fresh("fault-cut");
    let proxy = Proxy::start(common::address_of(&common::mqtt()));
    let sub = Collector::start(&topic, "5s");
    let mut publisher = Publisher::start(&proxy, &topic, &[]);

    for round in 0..4 {
        let first = round * 1000 + 1;
        publisher.write(first..=first + 999);
        if round < 3 {
            thread::sleep(Duration::from_millis(100));
            proxy.cut();
        }
    }
    let output = publisher.finish(Duration::from_secs(60));

    common::assert_success("pub through cut connections", &output);
    let stderr = common::stderr(&output);
    assert!(
        stderr.contains("reconnecting"),
        "no reconnect seen; stderr:\n{stderr}"
    );
    sub.assert_in_order(&topic, 4000);
}

#[test]
fn pub_without_reconnects_exits_6_at_a_cut_and_says_how_many_were_not_acknowledged() {
    let topic = common::fresh("fault-no-reconnect");
    let proxy = Proxy::start(common::address_of(&common::mqtt()));
    let mut publisher = Publisher::start(&proxy, &topic, &["--reconnects", "0"]);

    publisher.write(1..=10);
    thread::sleep(Duration::from_millis(500));
    // Stalled first, so the next lines stay unacknowledged when the link goes.
    proxy.stall();
    publisher.write(11..=20);
    thread::sleep(Duration::from_millis(300));
    proxy.cut();
    let output = publisher.finish(Duration::from_secs(30));

    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(6), "stderr:\n{stderr}");
    // The stall may let a packet already being read through.
    let missing = not_acknowledged(&stderr);
    assert!((1..=10).contains(&missing), "stderr:\n{stderr}");
    assert!(stderr.contains("connection lost"), "stderr:\n{stderr}");
}

#[test]
fn pub_gives_up_on_a_broker_that_stays_away_and_exits_6_in_bounded_time() {
    let topic = common::fresh("fault-away");
    let proxy = Proxy::start(common::address_of(&common::mqtt()));
    let mut publisher = Publisher::start(&proxy, &topic, &["--reconnects", "2"]);

    publisher.write(1..=10);
    thread::sleep(Duration::from_millis(500));
    proxy.refuse(true);
    proxy.cut();
    publisher.write(11..=20);
    let started = Instant::now();
    // stdin stays open: pub must not wait for more input to notice.
    let output = publisher.wait(Duration::from_secs(40));

    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(6), "stderr:\n{stderr}");
    assert!(not_acknowledged(&stderr) >= 1, "stderr:\n{stderr}");
    // Two retries a second apart, each failing at once against a closed connection.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up only after {:?}",
        started.elapsed()
    );
}

#[test]
fn a_message_over_the_brokers_packet_limit_ends_pub_without_a_reconnect_loop() {
    let dir = own::directory("max-packet");
    let broker = own::mosquitto(&dir, "allow_anonymous true\nmax_packet_size 100000\n");
    let file = dir.join("large.bin");
    std::fs::write(&file, vec![7_u8; 300_000]).unwrap();
    let url = format!("{}/t", broker.mqtt());
    let run = |version: &str, qos: &str| {
        let started = Instant::now();
        let file = file.to_str().unwrap();
        let args = ["pub", &url, "-f", file, "-V", version, "-q", qos];
        let output = common::run(&args, b"", Duration::from_secs(40));
        (output, started.elapsed())
    };

    // MQTT 5: the CONNACK gave the limit, and the message is never sent, at QoS 0 either.
    let (q0, _) = run("5", "0");
    common::assert_exit(&q0, 6, "pub over the limit, MQTT 5, QoS 0");
    assert!(common::stderr(&q0).contains("maximum packet size"));
    let (v5, took) = run("5", "1");
    let said = common::stderr(&v5);
    common::assert_exit(&v5, 6, "pub over the limit, MQTT 5");
    assert!(
        said.contains("300010 bytes")
            && said.contains("maximum packet size")
            && said.contains("100000 bytes")
            && !said.contains("reconnecting"),
        "{said}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // MQTT 3.1.1: the broker just closes the connection, each time.
    let (v3, took) = run("3.1.1", "1");
    let said = common::stderr(&v3);
    common::assert_exit(&v3, 6, "pub over the limit, MQTT 3.1.1");
    assert!(
        said.contains("refuses something this client sends"),
        "{said}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

// A Kafka `sub` rides out a lost cluster as an MQTT `sub` rides out a lost broker.

#[test]
fn kafka_sub_keeps_reading_after_the_cluster_was_away_for_5_s() {
    let kafka = own::KafkaBehindProxy::start();
    let url = kafka.url("outage");
    let publish = |message: &str| {
        let args = ["pub", &url, "--create-topic", "-m", message];
        let output = common::run(&args, b"", Duration::from_secs(60));
        common::assert_success("pub", &output);
    };
    publish("before");
    let mut sub = common::start(&["sub", &url, "--from", "beginning", "-n", "2"]);
    let mut stdout = std::io::BufReader::new(sub.child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert_eq!(first, "before\n");

    kafka.proxy.refuse(true);
    kafka.proxy.cut();
    thread::sleep(Duration::from_secs(5));
    let still_reading = sub.child.try_wait().unwrap().is_none();
    kafka.proxy.refuse(false);
    publish("after");

    let output = sub.finish(Duration::from_secs(60));
    assert!(still_reading, "sub ended during the outage");
    common::assert_success("sub across the outage", &output);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "after\n");
}

/// N from pub's "N of 20 messages sent were not acknowledged".
fn not_acknowledged(stderr: &str) -> usize {
    let (before, _) = stderr
        .split_once(" of 20 messages sent were not acknowledged")
        .unwrap_or_else(|| panic!("no count of unacknowledged messages; stderr:\n{stderr}"));
    let count = before.rsplit(' ').next().unwrap_or_default();
    count.parse().expect("a count")
}

/// `mqk pub -l -q 1` through the proxy, its stdin written by the test.
struct Publisher {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
}

impl Publisher {
    fn start(proxy: &Proxy, topic: &str, extra: &[&str]) -> Publisher {
        let url = format!("mqtt://{}/{topic}", proxy.address());
        let args = ["pub", &url, "-l", "-q", "1", "--keep-alive", KEEP_ALIVE];
        let mut child = common::mqk(&[&args[..], extra].concat())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mqk starts");
        let stdin = child.stdin.take();
        Publisher {
            child: Some(child),
            stdin,
        }
    }

    /// Writes the numbers as lines; the pipe holds them all while `pub` reads ahead.
    fn write(&mut self, numbers: impl Iterator<Item = usize>) {
        let text: String = numbers.map(|n| format!("{n}\n")).collect();
        let stdin = self.stdin.as_mut().expect("stdin still open");
        // A pub that already gave up has closed its end: the test's assertions say why.
        let _ = stdin.write_all(text.as_bytes());
    }

    /// Ends the input and waits for `pub` to exit.
    fn finish(mut self, limit: Duration) -> Output {
        drop(self.stdin.take());
        self.wait(limit)
    }

    /// Waits for `pub` to exit with its input still open.
    fn wait(mut self, limit: Duration) -> Output {
        common::wait_output(self.child.take().unwrap(), limit)
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `mqk sub -q 1` straight on the test Mosquitto, collecting until the topic is quiet.
struct Collector(common::Ready);

impl Collector {
    /// `quiet`: how long the topic may be silent before the stream counts as ended; longer
    /// than any outage the test makes.
    fn start(topic: &str, quiet: &str) -> Collector {
        let url = format!("{}/{topic}", common::mqtt());
        Collector(common::start(&["sub", &url, "-q", "1", "--timeout", quiet]))
    }

    /// Every number from 1 to `count` arrived, first arrivals in order; duplicates allowed.
    fn assert_in_order(self, topic: &str, count: usize) {
        let output = self.0.finish(Duration::from_secs(120));
        assert_eq!(
            output.status.code(),
            Some(7),
            "sub should end on its idle timeout; stderr:\n{}",
            common::stderr(&output)
        );
        let mut audit = Audit::default();
        for n in 1..=count {
            audit.expect(topic, n.to_string().as_bytes());
        }
        for line in common::text_lines(&output.stdout) {
            audit.receive(topic, line.as_bytes());
        }
        let total = audit.total();
        assert!(total.ok(), "{topic}: {total}");
    }
}
