//! The exit codes of `mqk` and what each means.
//!
//! Scripts branch on these, so they are part of the public interface: a code, once given a
//! meaning, keeps it. Errors anywhere in the crate carry their code by wrapping a [`Coded`]
//! error somewhere in their `anyhow` chain; [`code_of`] finds it.

use std::fmt;

/// Why `mqk` stopped, as a process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Everything asked for was done: every message acknowledged, every output written.
    Success = 0,
    /// A failure that no other code describes.
    Failure = 1,
    /// The command line was wrong; nothing was connected to.
    Usage = 2,
    /// A broker could not be reached (refused, unresolvable, timed out).
    Unreachable = 3,
    /// A broker refused us: bad credentials, not authorised, a subscription or a publish
    /// rejected with a reason code.
    Refused = 4,
    /// A Kafka topic does not exist and creating it was not asked for.
    NoTopic = 5,
    /// Some messages were never acknowledged; stderr says how many.
    Undelivered = 6,
    /// `sub --timeout` elapsed with nothing received.
    Timeout = 7,
    /// The input (a line, a JSON envelope, a file) could not be read or parsed.
    BadInput = 8,
    /// Stopped by SIGINT or SIGTERM before the input was finished.
    Interrupted = 130,
}

impl Code {
    /// The numeric exit status.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// An error that decides the exit code. Its message is the whole message; the cause, if any,
/// sits below it in the `anyhow` chain.
#[derive(Debug)]
pub struct Coded {
    pub code: Code,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Builds an `anyhow::Error` that exits with `code`.
pub fn err(code: Code, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.into(),
    })
}

/// Puts a coded message on top of `error`, which stays as its cause.
pub fn wrap(error: anyhow::Error, code: Code, message: impl Into<String>) -> anyhow::Error {
    error.context(Coded {
        code,
        message: message.into(),
    })
}

/// The exit code an error asks for: the outermost [`Coded`] in it, else [`Code::Failure`].
pub fn code_of(error: &anyhow::Error) -> Code {
    error
        .downcast_ref::<Coded>()
        .or_else(|| {
            error
                .chain()
                .find_map(|cause| cause.downcast_ref::<Coded>())
        })
        .map_or(Code::Failure, |coded| coded.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_survives_added_context() {
        let error = Err::<(), _>(err(Code::NoTopic, "topic x does not exist"))
            .context("cannot publish")
            .unwrap_err();
        assert_eq!(code_of(&error), Code::NoTopic);
    }

    #[test]
    fn the_outermost_code_wins() {
        let error = wrap(
            err(Code::Unreachable, "broker gone"),
            Code::Undelivered,
            "3 lost",
        );
        assert_eq!(code_of(&error), Code::Undelivered);
        assert_eq!(format!("{error:#}"), "3 lost: broker gone");
    }

    #[test]
    fn plain_errors_are_failures() {
        assert_eq!(code_of(&anyhow::anyhow!("boom")), Code::Failure);
    }
}
