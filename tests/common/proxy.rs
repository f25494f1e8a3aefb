//! A loopback TCP proxy that tests put between `mqk` and a broker to break the link on
//! purpose: stall it (a broker that stops answering), cut it (a broker restart or a dropped
//! network), or refuse new connections (a broker that is down).
//!
//! Plain threads and blocking sockets: one thread accepts, two per connection copy bytes.
//! While stalled, nothing is read from either side, so bytes wait in the kernel's buffers and
//! the peers see silence, exactly as with a stopped process.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How often a copying thread looks at the proxy's state while idle or stalled.
const TICK: Duration = Duration::from_millis(10);

/// The proxy; it stops, closing every connection, when dropped.
pub struct Proxy {
    address: SocketAddr,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    stalled: AtomicBool,
    refusing: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every live connection, to cut them.
    links: Mutex<Vec<(TcpStream, TcpStream)>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let accepting = state.clone();
        thread::spawn(move || accept(listener, upstream, accepting));
        Proxy { address, state }
    }

    /// `host:port` to give `mqk` instead of the broker's.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops moving bytes in both directions; connections stay open. New connections are
    /// accepted but not passed on until [`Proxy::resume`].
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::SeqCst);
    }

    /// Moves bytes again.
    pub fn resume(&self) {
        self.state.stalled.store(false, Ordering::SeqCst);
    }

    /// Closes every live connection at both ends, as a broker restart does.
    pub fn cut(&self) {
        for (client, server) in self.state.links.lock().unwrap().drain(..) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    /// While on, new connections are closed at once, as by a broker that is down.
    pub fn refuse(&self, on: bool) {
        self.state.refusing.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accepting thread so that it sees the stop.
        let _ = TcpStream::connect(self.address);
    }
}

fn accept(listener: TcpListener, upstream: SocketAddr, state: Arc<State>) {
    for client in listener.incoming() {
        if state.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if state.refusing.load(Ordering::SeqCst) {
            continue;
        }
        let state = state.clone();
        thread::spawn(move || {
            while state.stalled.load(Ordering::SeqCst) && !state.stopped.load(Ordering::SeqCst) {
                thread::sleep(TICK);
            }
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            link(client, server, &state);
        });
    }
}

/// Copies both ways until either side closes or the link is cut.
fn link(client: TcpStream, server: TcpStream, state: &Arc<State>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let ends = (client.try_clone(), server.try_clone());
    let (Ok(client_end), Ok(server_end)) = ends else {
        return;
    };
    state.links.lock().unwrap().push((client_end, server_end));
    let (up_from, up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upward = {
        let state = state.clone();
        thread::spawn(move || copy(up_from, up_to, &state))
    };
    copy(server, client, state);
    let _ = upward.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream, state: &State) {
    let _ = from.set_read_timeout(Some(TICK));
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if state.stopped.load(Ordering::SeqCst) {
            break;
        }
        if state.stalled.load(Ordering::SeqCst) {
            thread::sleep(TICK);
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
