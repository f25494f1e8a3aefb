//! Brokers a test starts for itself, beside the shared ones `make test` started: a
//! Mosquitto with its own configuration (or simply a second one), or a tansu that advertises
//! a proxy's address so that every Kafka connection goes through the proxy. Each runs on a
//! free loopback port in a directory of its own and is killed by PID, and the directory
//! removed, when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A broker process owned by one test.
pub struct OwnBroker {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl OwnBroker {
    /// Spawns `command` (which must listen on 127.0.0.1:`port`) and waits, at most 20 s, until
    /// the port takes connections.
    pub fn spawn(mut command: Command, port: u16, dir: &Path) -> OwnBroker {
        let child = command
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let broker = OwnBroker {
            child,
            port,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{command:?} did not listen on {port}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`, for a Mosquitto of one's own.
    pub fn mqtt(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh, empty directory for one broker.
pub fn directory(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(super::fresh(test));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Mosquitto on a free loopback port of its own, with `config` after its listener line.
/// Files the configuration names belong in `dir` (from [`directory`]), which goes with it.
pub fn mosquitto(dir: &Path, config: &str) -> OwnBroker {
    let binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mosquitto is installed (make test installs it)");
    let port = free_port();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let config = format!("listener {port} 127.0.0.1\nuser {user}\n{config}");
    std::fs::write(dir.join("mosquitto.conf"), config).unwrap();
    let mut command = Command::new(binary);
    command.arg("-c").arg(dir.join("mosquitto.conf"));
    OwnBroker::spawn(command, port, dir)
}

/// A tansu with in-memory storage on `port` that tells clients to connect to `advertised` (a
/// proxy in front of it). The binary is `MQK_TEST_TANSU`, as `make test` set it.
pub fn tansu(port: u16, advertised: SocketAddr) -> OwnBroker {
    let binary = std::env::var("MQK_TEST_TANSU")
        .expect("MQK_TEST_TANSU is not set: run the tests with `make test`");
    let dir = directory("tansu");
    // tansu reads a .env from its directory or the nearest parent; an empty one stops that.
    std::fs::write(dir.join(".env"), "").unwrap();
    let mut command = Command::new(binary);
    command
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SCHEMA_REGISTRY")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .args(["broker", "--cluster-id", "mqk-own"])
        .arg(format!("--listener-url=tcp://127.0.0.1:{port}"))
        .arg(format!("--advertised-listener-url=tcp://{advertised}"))
        .args(["--storage-engine", "memory://tansu/"]);
    OwnBroker::spawn(command, port, &dir)
}

/// A tansu of the test's own, reached only through a proxy that can stall or cut it.
pub struct KafkaBehindProxy {
    pub proxy: super::proxy::Proxy,
    _tansu: OwnBroker,
}

impl KafkaBehindProxy {
    pub fn start() -> KafkaBehindProxy {
        let port = free_port();
        let proxy = super::proxy::Proxy::start(([127, 0, 0, 1], port).into());
        // tansu advertises the proxy's address, so no connection bypasses it.
        let tansu = tansu(port, proxy.address());
        KafkaBehindProxy {
            proxy,
            _tansu: tansu,
        }
    }

    /// `kafka://PROXY/TOPIC`.
    pub fn url(&self, topic: &str) -> String {
        format!("kafka://{}/{topic}", self.proxy.address())
    }
}
