//! How `sub` writes what it receives to stdout: the payload and a newline (as mosquitto_sub
//! prints it), the raw payload bytes with nothing added, or one JSON envelope per line.
//!
//! Every message is flushed as soon as it is written, also into a pipe, so a consumer
//! downstream sees it at once and nothing is lost when `mqk` is stopped. A closed pipe
//! (`mqk sub … | head -1`) is reported as [`Written::Closed`], a normal end, not an error;
//! [`reader_gone`] notices it between messages too, so `sub` does not wait for the next one.

use std::io::{self, Write};

use crate::record::Envelope;

/// The output formats of `sub`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The payload followed by a newline.
    Text,
    /// The payload bytes exactly, nothing added.
    Raw,
    /// One envelope per line (see the README's record envelope).
    Json,
}

/// Completes once the reader of stdout has gone, when stdout is a pipe or a socket; never
/// for a file or a terminal. A thread waits in poll(2), which reports POLLERR on a pipe
/// whose reading end is closed (POLLHUP on a socket) without anything being written.
pub async fn reader_gone() {
    use std::os::fd::AsRawFd;
    let fd = io::stdout().as_raw_fd();
    // SAFETY: fstat only writes into the zeroed struct it is given.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let kind = match unsafe { libc::fstat(fd, &mut stat) } {
        0 => stat.st_mode & libc::S_IFMT,
        _ => 0,
    };
    if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
        return std::future::pending().await;
    }
    let (gone, wait) = tokio::sync::oneshot::channel();
    // A plain thread, not spawn_blocking: the runtime would wait for it when shutting down.
    std::thread::spawn(move || {
        loop {
            let mut watch = libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the length given.
            let ready = unsafe { libc::poll(&mut watch, 1, -1) };
            if ready > 0 && watch.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                let _ = gone.send(());
                return;
            }
        }
    });
    let _ = wait.await;
}

/// What happened to a write.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Ok,
    /// The reader went away (EPIPE): stop quietly.
    Closed,
}

/// Writes messages in one format and flushes each.
pub struct Printer<W: Write> {
    format: Format,
    out: W,
}

impl<W: Write> Printer<W> {
    pub fn new(format: Format, out: W) -> Self {
        Printer { format, out }
    }

    /// Writes one message and flushes it.
    pub fn write(&mut self, envelope: &Envelope) -> io::Result<Written> {
        let result = match self.format {
            Format::Text => self.write_parts(&[envelope.payload_bytes(), b"\n"]),
            Format::Raw => self.write_parts(&[envelope.payload_bytes()]),
            Format::Json => self.write_parts(&[envelope.to_json().as_bytes(), b"\n"]),
        };
        match result {
            Ok(()) => Ok(Written::Ok),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Written::Closed),
            Err(e) => Err(e),
        }
    }

    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for part in parts {
            self.out.write_all(part)?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(format: Format, payload: &[u8]) -> Vec<u8> {
        let mut printer = Printer::new(format, Vec::new());
        let envelope = Envelope {
            payload: Some(payload.to_vec()),
            ..Default::default()
        };
        assert_eq!(printer.write(&envelope).unwrap(), Written::Ok);
        printer.out
    }

    #[test]
    fn raw_adds_nothing() {
        assert_eq!(printed(Format::Raw, b"\x00a\n"), b"\x00a\n");
    }

    #[test]
    fn text_adds_a_newline() {
        assert_eq!(printed(Format::Text, b"a"), b"a\n");
    }

    #[test]
    fn json_is_one_line() {
        assert_eq!(printed(Format::Json, b"a\nb"), b"{\"payload\":\"a\\nb\"}\n");
    }

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_a_normal_end() {
        let mut printer = Printer::new(Format::Text, ClosedPipe);
        assert_eq!(
            printer.write(&Envelope::default()).unwrap(),
            Written::Closed
        );
    }
}
