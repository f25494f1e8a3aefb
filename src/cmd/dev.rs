//! `mqk dev`: a throwaway MQTT broker and Kafka cluster inside this process, for demos,
//! first steps and smoke tests. Not where real data lives: everything is in memory and gone
//! when the process stops.
//!
//! The MQTT broker is rumqttd, which serves MQTT 5 and 3.1.1 on separate listeners; the
//! Kafka cluster is librdkafka's mock cluster, which other processes reach on loopback.
//! The mock cluster has no CreateTopics handler, so topics are created here, with `--topic`.
//!
//! rumqttd binds its listeners itself and only logs a bind failure, after which the readiness
//! probe would happily talk to whatever process holds the port. So `dev` binds both ports
//! first, at once, and releases them just before rumqttd binds them: a taken port fails
//! here, naming the flag. Another process can still take a port in the moment between.

use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::mocking::MockCluster;

use crate::mqtt::{Connection, Event, MAX_PACKET, MqttSettings, Session, Version};
use crate::settings::DevSettings;

/// Starts both, prints their URLs as shell assignments on `out`, and runs until `shutdown`.
pub async fn run(
    settings: DevSettings,
    mut out: impl Write,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (v5, v311) = {
        let v5 = listen(settings.mqtt_port, "--mqtt-port")?;
        let v311 = listen(settings.mqtt311_port, "--mqtt311-port")?;
        (v5.local_addr()?, v311.local_addr()?)
    };
    start_mqtt(v5, v311).await?;

    let cluster = MockCluster::new(1).context("cannot start the Kafka mock cluster")?;
    for (topic, partitions) in &settings.topics {
        cluster
            .create_topic(topic, *partitions, 1)
            .with_context(|| format!("cannot create kafka topic '{topic}'"))?;
    }
    let kafka = cluster.bootstrap_servers();

    writeln!(out, "export MQK_MQTT=mqtt://{v5}")?;
    writeln!(out, "export MQK_MQTT311=mqtt://{v311}")?;
    writeln!(out, "export MQK_KAFKA=kafka://{kafka}")?;
    out.flush()?;
    let topics: Vec<String> = settings
        .topics
        .iter()
        .map(|(t, n)| format!("{t} ({n})"))
        .collect();
    eprintln!(
        "ready: MQTT 5 on {v5}, MQTT 3.1.1 on {v311}, Kafka mock cluster on {kafka}, topics: {}",
        if topics.is_empty() {
            "none".into()
        } else {
            topics.join(", ")
        }
    );

    shutdown.await;
    drop(cluster);
    eprintln!("dev stopped");
    Ok(())
}

/// A loopback listener on the port `flag` gave, or on one the system has free.
fn listen(given: Option<u16>, flag: &str) -> anyhow::Result<TcpListener> {
    let port = given.unwrap_or(0);
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).with_context(|| match given {
        Some(port) => format!("{flag} {port}: cannot listen on 127.0.0.1:{port}"),
        None => "cannot find a free loopback port".into(),
    })
}

/// Starts rumqttd on its own threads and waits until both listeners take an MQTT client.
async fn start_mqtt(v5: SocketAddr, v311: SocketAddr) -> anyhow::Result<()> {
    let config = serde_json::from_value::<rumqttd::Config>(broker_config(v5, v311))
        .context("invalid embedded broker configuration")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the embedded MQTT broker stopped");
            }
        })?;
    // A real client, connecting and disconnecting cleanly: a bare TCP probe would make
    // rumqttd log an error for a connection closed before CONNECT. Each attempt has its own
    // client id: rumqttd 0.20 panics when an id comes back after its earlier connection's will
    // task has ended (as a probe that gave up under load leaves it), and the panic poisons a
    // lock every later connection to that listener needs (bytebeamio/rumqtt#1062).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempt = 0_u32;
    for (address, version) in [(v5, Version::V5), (v311, Version::V311)] {
        while !accepts_clients(address, version, attempt).await {
            attempt += 1;
            if Instant::now() > deadline {
                anyhow::bail!("the embedded MQTT broker did not start listening on {address}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

async fn accepts_clients(address: SocketAddr, version: Version, attempt: u32) -> bool {
    let settings = MqttSettings {
        host: address.ip().to_string(),
        port: address.port(),
        tls: None,
        version,
        client_id: format!("mqk-dev-probe-{attempt}"),
        session: Session::Clean,
        keep_alive: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(1),
        credentials: None,
        inflight: 1,
        manual_acks: false,
    };
    let Ok(mut connection) = Connection::new(&settings) else {
        return false;
    };
    match connection.poll().await {
        Ok(Event::Connected { .. }) => {
            connection.disconnect(Duration::from_secs(1)).await;
            true
        }
        _ => false,
    }
}

/// rumqttd's configuration: one MQTT 5 and one MQTT 3.1.1 listener on loopback, packets up
/// to the protocol's limit.
fn broker_config(v5: SocketAddr, v311: SocketAddr) -> serde_json::Value {
    let connections = serde_json::json!({
        "connection_timeout_ms": 60000,
        "max_payload_size": MAX_PACKET,
        "max_inflight_count": 100,
        "dynamic_filters": true,
    });
    let server = |name: &str, listen: SocketAddr| {
        serde_json::json!({ "1": {
            "name": name,
            "listen": listen.to_string(),
            "next_connection_delay_ms": 1,
            "connections": connections,
        }})
    };
    serde_json::json!({
        "id": 0,
        "router": {
            "max_connections": 10010,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 104857600,
            "max_segment_count": 10,
        },
        "v5": server("mqtt5", v5),
        "v4": server("mqtt311", v311),
    })
}
