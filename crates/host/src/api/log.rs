//! `log`: a plugin's lines into the host's log, tagged with the plugin (no
//! grant needed), kept for the receipt up to a limit per call.

use wasmtime::component::Linker;

use super::state::{HasState, MAX_LOG_LINES, PluginState};
use super::{Cx, HostApi, versioned};
use crate::bindings::latest::yoi::plugin::log;
use crate::receipt::{LogLevel, LogLine};

/// The unit.
pub(crate) const API: HostApi = HostApi {
    interface: "log",
    link,
    link_as,
};

fn link(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    log::add_to_linker::<PluginState, HasState>(l, |s| s)
}

fn link_as(l: &mut Linker<PluginState>, version: &str) -> wasmtime::Result<()> {
    let mut i = l.instance(&versioned("log", version))?;
    i.func_wrap(
        "write",
        |mut cx: Cx<'_>, (level, message, fields): (log::Level, String, Vec<(String, String)>)| {
            log::Host::write(cx.data_mut(), level, message, fields);
            Ok(())
        },
    )?;
    Ok(())
}

impl log::Host for PluginState {
    fn write(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        if self.logs.len() >= MAX_LOG_LINES {
            self.dropped_logs += 1;
            return;
        }
        let line = LogLine::new(level.into(), &message, &fields);
        emit(&self.plugin, &line);
        self.logs.push(line);
    }
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        }
    }
}

/// Sends a plugin's log line to `tracing`, tagged with the plugin id.
pub(crate) fn emit(plugin: &str, line: &LogLine) {
    let fields = line.rendered_fields();
    let message = &line.message;
    match line.level {
        LogLevel::Trace => tracing::trace!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Info => tracing::info!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "yoi::plugin", plugin, fields, "{message}"),
        LogLevel::Error => tracing::error!(target: "yoi::plugin", plugin, fields, "{message}"),
    }
}
