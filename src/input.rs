//! Framing of what `pub` sends: one message from `-m` or `-f`, the whole of stdin, one
//! message per stdin line, or one NDJSON envelope per stdin line.
//!
//! Line framing is byte-exact: the LF or CRLF terminator is removed and nothing is added, a
//! last line without a terminator is still a message, and an empty line is a zero-byte
//! message. Lines are read as bytes, of any length, so binary and non-UTF-8 data pass through.

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use crate::exit::{Code, err};
use crate::record::Envelope;

/// Where the messages come from; decided by the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One message, given in full (`-m TEXT`, or `-f FILE` read before connecting).
    One(Vec<u8>),
    /// All of stdin as one message (`-s`).
    WholeStdin,
    /// One message per stdin line (`-l`).
    Lines,
    /// One envelope per stdin line (`--format json`).
    Envelopes,
}

/// A message read from the input, with the line it came from (1 for single messages).
#[derive(Debug)]
pub struct Item {
    pub line: usize,
    pub envelope: Envelope,
}

/// Reads messages one at a time, so a large input never sits in memory all at once.
pub struct Input<R> {
    framing: Framing,
    reader: BufReader<R>,
    line: usize,
    done: bool,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Input<R> {
    pub fn new(framing: Framing, reader: R) -> Self {
        let reader = BufReader::with_capacity(64 * 1024, reader);
        Input {
            framing,
            reader,
            line: 0,
            done: false,
            buffer: Vec::new(),
        }
    }

    /// The next message, or `None` at the end of the input.
    pub async fn next(&mut self) -> anyhow::Result<Option<Item>> {
        if self.done {
            return Ok(None);
        }
        match self.framing.clone() {
            Framing::One(bytes) => {
                self.done = true;
                Ok(Some(self.item(bytes)))
            }
            Framing::WholeStdin => {
                self.reader
                    .read_to_end(&mut self.buffer)
                    .await
                    .context("cannot read stdin")?;
                self.done = true;
                let bytes = std::mem::take(&mut self.buffer);
                Ok(Some(self.item(bytes)))
            }
            Framing::Lines => Ok(self.read_line().await?.map(|line| self.item(line))),
            Framing::Envelopes => self.next_envelope().await,
        }
    }

    /// The number of the last line read.
    pub fn line(&self) -> usize {
        self.line
    }

    fn item(&mut self, payload: Vec<u8>) -> Item {
        self.line = self.line.max(1);
        Item {
            line: self.line,
            envelope: Envelope {
                payload: Some(payload),
                ..Default::default()
            },
        }
    }

    async fn next_envelope(&mut self) -> anyhow::Result<Option<Item>> {
        while let Some(line) = self.read_line().await? {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let envelope = Envelope::from_json(&line, self.line)
                .map_err(|e| err(Code::BadInput, format!("stdin {e}")))?;
            return Ok(Some(Item {
                line: self.line,
                envelope,
            }));
        }
        Ok(None)
    }

    /// One line without its terminator, or `None` at the end of the input. Bytes of a line
    /// stay in the buffer until it is complete, so a cancelled call loses nothing.
    async fn read_line(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        let n = self
            .reader
            .read_until(b'\n', &mut self.buffer)
            .await
            .with_context(|| format!("cannot read stdin after line {}", self.line))?;
        if n == 0 && self.buffer.is_empty() {
            self.done = true;
            return Ok(None);
        }
        self.line += 1;
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
            if self.buffer.last() == Some(&b'\r') {
                self.buffer.pop();
            }
        }
        Ok(Some(std::mem::take(&mut self.buffer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn payloads(framing: Framing, input: &[u8]) -> Vec<Vec<u8>> {
        let mut input = Input::new(framing, input);
        let mut out = Vec::new();
        while let Some(item) = input.next().await.unwrap() {
            out.push(item.envelope.payload.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn lines_lose_their_terminator_and_nothing_else() {
        let got = payloads(Framing::Lines, b"a\r\n\nb\x00c\nlast").await;
        assert_eq!(
            got,
            vec![b"a".to_vec(), vec![], b"b\x00c".to_vec(), b"last".to_vec()]
        );
    }

    #[tokio::test]
    async fn empty_input_has_no_lines() {
        assert!(payloads(Framing::Lines, b"").await.is_empty());
    }

    #[tokio::test]
    async fn whole_stdin_is_one_message_byte_for_byte() {
        assert_eq!(
            payloads(Framing::WholeStdin, b"x\n\ny\n").await,
            vec![b"x\n\ny\n".to_vec()]
        );
    }

    #[tokio::test]
    async fn envelopes_skip_blank_lines_and_report_bad_ones_by_line() {
        let text = b"{\"payload\":\"a\"}\n\n{\"payload\":\n";
        let mut input = Input::new(Framing::Envelopes, &text[..]);
        assert!(input.next().await.unwrap().is_some());
        let error = input.next().await.unwrap_err();
        assert!(
            error.to_string().starts_with("stdin line 3, column"),
            "{error}"
        );
    }
}
