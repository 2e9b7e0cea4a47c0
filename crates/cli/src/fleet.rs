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

use crate::ctx::Ctx;
use crate::dev::{Follows, Out, answer_stdin, print_reloads};
use crate::usage::UsageError;

/// What `yoi host` was asked for.
pub(crate) struct Options {
    pub(crate) name: Option<String>,
    pub(crate) scope: String,
    pub(crate) config: Option<PathBuf>,
    pub(crate) poll_ms: u64,
    pub(crate) json: bool,
}

/// The host's name: given, else `$YOI_HOST_NAME`, else the machine's.
pub(crate) fn host_name(given: Option<String>) -> String {
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

/// `--scope` as a scope.
pub(crate) fn parse_scope(text: &str) -> Result<Scope> {
    Ok(text
        .parse()
        .map_err(|e: String| UsageError(format!("--scope: {e}")))?)
}

/// Starts a host that loads the registry's versions active for `scope` and
/// follows its changes (checking every `poll_ms` for any a push missed),
/// as `yoi host` and `yoi mcp` run it. The host follows the registry while
/// the returned watcher lives.
pub(crate) fn registry_host(
    ctx: &Ctx,
    name: &str,
    scope: Scope,
    config: Option<&std::path::Path>,
    poll_ms: u64,
    default_data: Option<std::path::PathBuf>,
) -> Result<(yoi_host::Host, yoi_host::Watcher)> {
    if poll_ms == 0 {
        anyhow::bail!(UsageError(
            "--poll-ms must be at least 1 (the check for changes a push may have missed)".into()
        ));
    }
    let registry = Arc::new(ctx.open()?);
    // The user's compile cache unless the configuration names another: a
    // restarted host compiles nothing it compiled before.
    let mut builder = crate::plugin::local_host();
    let config = config.map(HostConfig::load).transpose()?;
    if let Some(config) = &config {
        builder = builder.apply(config);
    }
    if let Some(data) = default_data
        && config.as_ref().is_none_or(|c| c.host.data.is_none())
    {
        builder = builder.data_dir(data);
    }
    let host = builder
        .name(name.to_owned())
        .scope(scope)
        .registry(registry)
        .build()
        .context("starting the host")?;
    let watcher = host
        .watch(Duration::from_millis(poll_ms))
        .context("following the registry")?;
    Ok((host, watcher))
}

pub(crate) fn host(ctx: &Ctx, options: Options) -> Result<ExitCode> {
    let out = Out { json: options.json };
    let scope = parse_scope(&options.scope)?;
    let name = host_name(options.name);
    let (host, _watcher) = registry_host(
        ctx,
        &name,
        scope,
        options.config.as_deref(),
        options.poll_ms,
        None,
    )?;
    let reloads = host.reloads();
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
