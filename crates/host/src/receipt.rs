//! What a dispatch returns: the final data, whether it was blocked, and one
//! receipt per handler.

use std::time::Duration;

use semver::Version;
use serde::Serialize;
use yoi_manifest::{HookPoint, PluginId};

/// Longest log message kept, in bytes; longer ones are cut.
const MAX_LOG_MESSAGE: usize = 4 * 1024;
/// Most key/value fields kept per log line.
const MAX_LOG_FIELDS: usize = 16;

/// The result of dispatching one hook point.
#[derive(Debug, Clone, Serialize)]
pub struct Dispatch<E> {
    /// The event as the handlers left it (unchanged if nothing changed it).
    pub data: E,
    /// Set when a handler stopped the event.
    pub blocked: Option<Blocked>,
    /// One receipt per handler that was due to run, in run order.
    pub receipts: Vec<Receipt>,
}

impl<E> Dispatch<E> {
    /// Whether the event was blocked.
    pub fn is_blocked(&self) -> bool {
        self.blocked.is_some()
    }

    /// Whether any handler changed the event (and the host kept the change).
    pub fn is_changed(&self) -> bool {
        self.receipts.iter().any(|r| !r.changed.is_empty())
    }

    /// The fields the handlers changed, each once, in the order first
    /// changed.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for field in self.receipts.iter().flat_map(|r| &r.changed) {
            if !out.contains(field) {
                out.push(field);
            }
        }
        out
    }

    /// The same answer with the data converted.
    pub fn map_data<F>(self, f: impl FnOnce(E) -> F) -> Dispatch<F> {
        Dispatch {
            data: f(self.data),
            blocked: self.blocked,
            receipts: self.receipts,
        }
    }
}

/// Who stopped an event, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocked {
    /// The plugin that blocked.
    pub plugin: PluginId,
    /// Its reason (or, for a fail-closed failure, what failed).
    pub reason: String,
}

impl Blocked {
    /// The text a model sees in place of a blocked tool's result:
    /// `blocked by plugin <id>: <reason>`.
    pub fn message(&self) -> String {
        format!("blocked by plugin {}: {}", self.plugin, self.reason)
    }
}

/// How one handler's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It let the event through, changed or not.
    Ok,
    /// It stopped the event.
    Blocked,
    /// It ran out of time and was stopped.
    Timeout,
    /// It trapped, returned an error, or could not be instantiated.
    Error,
    /// It changed a field its point does not allow, or blocked where blocking
    /// is not allowed, or returned malformed data; its change was ignored.
    RejectedChange,
    /// It did not run: a limit of the host ran out first (no free slot
    /// within its wait under the plugin's or the host's concurrency limit, a
    /// full instance pool, or the chain's time budget spent by earlier
    /// handlers). Never the plugin's failure: the crash guard does not count
    /// it. A fail-closed hook still stops the event.
    Busy,
}

impl Status {
    /// Its name, as in JSON: `ok`, `rejected_change`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Blocked => "blocked",
            Status::Timeout => "timeout",
            Status::Error => "error",
            Status::RejectedChange => "rejected_change",
            Status::Busy => "busy",
        }
    }
}

/// The record of one handler's run.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The plugin.
    pub plugin: PluginId,
    /// Its version.
    pub version: Version,
    /// The hook point.
    pub point: HookPoint,
    /// How it ended.
    pub status: Status,
    /// Fields the handler changed (and the host kept).
    pub changed: Vec<&'static str>,
    /// The block reason, error or rejection, in words.
    pub detail: Option<String>,
    /// Wall time of the handler, instantiation included.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// What the plugin logged during this run (and wrote to stdout/stderr).
    pub logs: Vec<LogLine>,
    /// Host API calls its grants refused during this run.
    pub denials: Vec<Denial>,
}

/// A host API call refused by the plugin's grants. The guest got a typed
/// `denied` error; the host logged it (with the fix) and, when it has a
/// registry, recorded a `permission_denied` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// `https`, `fs` or `secret`.
    pub capability: String,
    /// What the plugin tried to reach: a URL (without query), a path, a key.
    pub target: String,
    /// Why it was refused.
    pub reason: String,
    /// What the plugin is granted of this capability, in `yoi grant` form.
    pub granted: Vec<String>,
    /// What the operator can do about it, e.g.
    /// `to allow it, run `yoi grant acme.weather https:api.example.com``.
    pub fix: String,
}

pub(crate) fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// trace
    Trace,
    /// debug
    Debug,
    /// info
    Info,
    /// warn
    Warn,
    /// error
    Error,
}

/// One line a plugin logged. Text is cleaned of control characters and cut
/// to the host's limits: it came from untrusted code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Level.
    pub level: LogLevel,
    /// Message.
    pub message: String,
    /// Key/value fields.
    pub fields: Vec<(String, String)>,
}

impl LogLine {
    pub(crate) fn new(level: LogLevel, message: &str, fields: &[(String, String)]) -> Self {
        Self {
            level,
            message: clean(message, MAX_LOG_MESSAGE),
            fields: fields
                .iter()
                .take(MAX_LOG_FIELDS)
                .map(|(k, v)| (clean(k, 64), clean(v, 256)))
                .collect(),
        }
    }

    /// Fields as `k=v k=v`.
    pub fn rendered_fields(&self) -> String {
        self.fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Cuts `s` to at most `max` bytes (on a character boundary) and replaces
/// control characters, so plugin text cannot forge log lines or drive a
/// terminal.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let c = if c.is_control() && c != '\t' {
            '\u{fffd}'
        } else {
            c
        };
        if out.len() + c.len_utf8() > max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_cuts_on_char_boundaries_and_strips_controls() {
        assert_eq!(clean("a\u{1b}[31mb\nc", 100), "a\u{fffd}[31mb\u{fffd}c");
        assert_eq!(clean("ééé", 4), "éé…");
        assert_eq!(clean("abc", 3), "abc");
    }
}
