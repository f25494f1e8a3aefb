//! Checks a received stream against what was sent: per stream (a sensor, a topic), how many
//! messages were delivered, lost, duplicated or reordered, and how many were never sent.
//!
//! A message is known by its bytes, so every message sent on one stream must be distinct
//! (a sequence number or timestamp in the payload does it). A duplicate is a message seen
//! before, which at-least-once delivery allows; a reorder is a message seen for the first
//! time after a later one of its stream, which no guarantee allows; a loss is a message never
//! seen.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The audit of every stream.
#[derive(Debug, Default)]
pub struct Audit {
    streams: BTreeMap<String, Stream>,
}

#[derive(Debug, Default)]
struct Stream {
    position: HashMap<Vec<u8>, usize>,
    seen: Vec<bool>,
    furthest: Option<usize>,
    counts: Counts,
}

/// What happened to one stream, or to all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub expected: usize,
    pub delivered: usize,
    pub duplicated: usize,
    pub reordered: usize,
    pub unexpected: usize,
}

impl Counts {
    /// Messages sent and never received.
    pub fn lost(&self) -> usize {
        self.expected - self.delivered
    }

    /// Nothing lost, nothing reordered, nothing that was not sent.
    pub fn ok(&self) -> bool {
        self.lost() == 0 && self.reordered == 0 && self.unexpected == 0
    }

    fn add(&mut self, other: &Counts) {
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.unexpected += other.unexpected;
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered {}/{}, lost {}, duplicated {}, reordered {}, unexpected {}",
            self.delivered,
            self.expected,
            self.lost(),
            self.duplicated,
            self.reordered,
            self.unexpected
        )
    }
}

impl Audit {
    /// Records that `message` was sent on `stream`, after every message sent before it.
    pub fn expect(&mut self, stream: &str, message: &[u8]) {
        let stream = self.streams.entry(stream.to_owned()).or_default();
        let index = stream.seen.len();
        stream.position.insert(message.to_vec(), index);
        stream.seen.push(false);
        stream.counts.expected += 1;
    }

    /// Records that `message` arrived on `stream`, after everything received before it.
    pub fn receive(&mut self, stream: &str, message: &[u8]) {
        let stream = self.streams.entry(stream.to_owned()).or_default();
        let Some(&index) = stream.position.get(message) else {
            stream.counts.unexpected += 1;
            return;
        };
        if stream.seen[index] {
            stream.counts.duplicated += 1;
            return;
        }
        stream.seen[index] = true;
        stream.counts.delivered += 1;
        match stream.furthest {
            Some(furthest) if index < furthest => stream.counts.reordered += 1,
            _ => stream.furthest = Some(index),
        }
    }

    /// Counts per stream, in stream order.
    pub fn streams(&self) -> impl Iterator<Item = (&str, Counts)> {
        self.streams
            .iter()
            .map(|(name, stream)| (name.as_str(), stream.counts))
    }

    /// Counts over all streams.
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for stream in self.streams.values() {
            total.add(&stream.counts);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(sent: &[&str], received: &[&str]) -> Counts {
        let mut audit = Audit::default();
        for m in sent {
            audit.expect("s", m.as_bytes());
        }
        for m in received {
            audit.receive("s", m.as_bytes());
        }
        audit.total()
    }

    #[test]
    fn an_exact_copy_is_ok() {
        let counts = audit(&["1", "2", "3"], &["1", "2", "3"]);
        assert!(counts.ok());
        assert_eq!(counts.delivered, 3);
    }

    #[test]
    fn a_replayed_run_is_duplicates_not_reorders() {
        let counts = audit(&["1", "2", "3", "4"], &["1", "2", "3", "2", "3", "4"]);
        assert!(counts.ok(), "{counts}");
        assert_eq!(counts.duplicated, 2);
    }

    #[test]
    fn a_late_first_arrival_is_a_reorder() {
        let counts = audit(&["1", "2", "3"], &["1", "3", "2"]);
        assert_eq!(counts.reordered, 1);
        assert!(!counts.ok());
    }

    #[test]
    fn gaps_and_strangers_are_counted() {
        let counts = audit(&["1", "2", "3"], &["1", "3", "x"]);
        assert_eq!((counts.lost(), counts.unexpected), (1, 1));
    }
}
