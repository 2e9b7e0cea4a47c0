//! The error of a command line that cannot be acted on: `main` turns it
//! into exit code 2, every other error into 1.

/// A command line that cannot be acted on (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);
