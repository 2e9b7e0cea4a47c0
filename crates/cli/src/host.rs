//! `yoi host`: one host of a fleet. It follows the registry (a shared
//! PostgreSQL database, or a folder): loads the versions active for its
//! scope with their grants and settings, reloads within a second of every
//! change (pushed by PostgreSQL, else polled), reports itself to the
//! registry (`yoi hosts`), and answers test calls on stdin like `yoi dev`.
//! docs/fleet.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use yoi_host::{HostConfig, Scope};

use crate::dev::{Follows, Out, answer_stdin, print_reloads};
use crate::ops::{Ctx, UsageError};

/// What `yoi host` was asked for.
pub(crate) struct Options {
    pub(crate) name: Option<String>,
    pub(crate) scope: String,
    pub(crate) config: Option<PathBuf>,
    pub(crate) poll_ms: u64,
    pub(crate) json: bool,
}

/// The host's name: given, else `$YOI_HOST_NAME`, else the machine's.
fn host_name(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("YOI_HOST_NAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "yoi-host".to_owned())
}

pub(crate) fn host(ctx: &Ctx, options: Options) -> Result<ExitCode> {
    let out = Out { json: options.json };
    let scope: Scope = options
        .scope
        .parse()
        .map_err(|e: String| UsageError(format!("--scope: {e}")))?;
    if options.poll_ms == 0 {
        anyhow::bail!(UsageError(
            "--poll-ms must be at least 1 (the check for changes a push may have missed)".into()
        ));
    }
    let registry = Arc::new(ctx.open()?);
    // The user's compile cache unless the configuration names another: a
    // restarted host compiles nothing it compiled before.
    let mut builder = crate::plugin::local_host();
    if let Some(path) = &options.config {
        builder = builder.apply(&HostConfig::load(path)?);
    }
    let name = host_name(options.name);
    let host = builder
        .name(name.clone())
        .scope(scope)
        .registry(Arc::clone(&registry))
        .build()
        .context("starting the host")?;
    let reloads = host.reloads();
    let _watcher = host
        .watch(Duration::from_millis(options.poll_ms))
        .context("following the registry")?;
    out.event(
        json!({"event": "started", "host": name, "scope": scope.as_str()}),
        || {
            outln!(
                "yoi host {name} (scope {}) following the registry",
                scope.as_str()
            )
        },
    );
    print_reloads(&host, reloads, out, Follows::Registry)?;
    answer_stdin(&host, out, Follows::Registry, true)
}
