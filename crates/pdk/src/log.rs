//! Logging into the host's log, tagged with your plugin's id.
//!
//! Needs no grant. The host caps the length of each line.

use crate::__private::base::yoi::plugin::log as wit;

/// How important a log line is.
pub use wit::Level;

/// Writes one line with key/value fields.
///
/// ```no_run
/// yoi_pdk::log::write(yoi_pdk::log::Level::Info, "masked secrets", &[("count", "2")]);
/// ```
pub fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    wit::write(level, message, &fields);
}

/// Writes a `trace` line.
pub fn trace(message: &str) {
    write(Level::Trace, message, &[]);
}

/// Writes a `debug` line.
pub fn debug(message: &str) {
    write(Level::Debug, message, &[]);
}

/// Writes an `info` line.
pub fn info(message: &str) {
    write(Level::Info, message, &[]);
}

/// Writes a `warn` line.
pub fn warn(message: &str) {
    write(Level::Warn, message, &[]);
}

/// Writes an `error` line.
pub fn error(message: &str) {
    write(Level::Error, message, &[]);
}
