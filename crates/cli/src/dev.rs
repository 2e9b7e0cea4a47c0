//! `yoi dev`: a local host over plugin folders, for authors iterating and
//! for small deployments without a registry. It reads `yoi.toml` (grants,
//! limits, the capability list), loads the folders, watches them and
//! reloads what changes — a broken package keeps its previous version
//! running and says why — and answers test calls typed on stdin.
//! docs/configuration.md ("Development mode").

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use yoi_host::{HookPoint, Host, HostConfig, ReloadReport, ToolRequest};

use crate::plugin::{print_logs, print_receipt};
use crate::usage::UsageError;

/// What `yoi dev` was asked for.
pub(crate) struct Options {
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) json: bool,
}

/// How output is written: lines for people, or one JSON object per line.
#[derive(Clone, Copy)]
pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    pub(crate) fn event(&self, value: Value, text: impl FnOnce()) {
        if self.json {
            outln!("{value}");
        } else {
            text();
        }
    }
}

impl Follows {
    /// Why a plugin was unloaded.
    fn gone(self) -> &'static str {
        match self {
            Follows::Folders => "its folder is gone",
            Follows::Registry => {
                "no version of it is active for this host's scope any more (or it was disabled)"
            }
        }
    }
}

const HELP: &str = "commands, one per line:
  hook POINT {json}       dispatch a hook point's event (fields as in docs/hooks.md)
  tool NAME {json}        call a tool (its namespaced name) with a JSON input
  observe NAME {json}     hand the observers a custom observation
  plugins                 list the loaded plugins
  reload                  reload now (the plugin folders, or the registry)
  help                    this list
  quit                    stop";

/// A host over plugin folders, as `yoi dev` and `yoi mcp DIR...` start it.
pub(crate) struct FolderHost {
    pub(crate) host: Host,
    pub(crate) config: HostConfig,
    /// The configuration file read, if any.
    pub(crate) source: Option<PathBuf>,
}

/// Starts a host over `dirs` and the folders of the configuration file
/// (`config`, else ./yoi.toml if there is one; without one nothing is
/// granted), with `.yoi/data` and `.yoi/cache` unless it names others.
pub(crate) fn folder_host(dirs: &[PathBuf], config_file: Option<&Path>) -> Result<FolderHost> {
    let (mut config, source) = match config_file {
        Some(path) => (HostConfig::load(path)?, Some(path.to_path_buf())),
        None if Path::new(yoi_host::CONFIG_FILE).is_file() => (
            HostConfig::load(yoi_host::CONFIG_FILE)?,
            Some(PathBuf::from(yoi_host::CONFIG_FILE)),
        ),
        None => (
            HostConfig {
                base: PathBuf::from("."),
                ..HostConfig::default()
            },
            None,
        ),
    };
    let mut folders = config.folders();
    folders.extend(dirs.iter().cloned());
    if folders.is_empty() {
        folders.push(PathBuf::from("."));
    }
    for folder in &folders {
        if !folder.is_dir() {
            anyhow::bail!(UsageError(format!(
                "{} is not a folder; name package folders, or folders of packages",
                folder.display()
            )));
        }
    }
    // Absolute, so they stay what they were whether they came from the
    // file (relative to it) or the command line (relative to here).
    config.plugins.folders = folders
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .collect();
    // Relative to the file's folder, like its own paths.
    let dot_yoi = PathBuf::from(".yoi");
    config.host.data.get_or_insert_with(|| dot_yoi.join("data"));
    config
        .host
        .cache
        .get_or_insert_with(|| dot_yoi.join("cache"));
    let host = crate::plugin::with_compile_worker(Host::builder())
        .apply(&config)
        .build()
        .context("starting the development host")?;
    Ok(FolderHost {
        host,
        config,
        source,
    })
}

pub(crate) fn dev(options: Options) -> Result<ExitCode> {
    let out = Out { json: options.json };
    let FolderHost {
        host,
        config,
        source,
    } = folder_host(&options.dirs, options.config.as_deref())?;
    let data = config.resolve(config.host.data.as_deref().unwrap_or(Path::new(".")));
    out.event(
        json!({
            "event": "started",
            "config": source,
            "folders": config.plugins.folders,
            "data": data,
            "hot_reload": config.hot_reload(),
        }),
        || {
            match &source {
                Some(file) => outln!("yoi dev: {} ", file.display()),
                None => outln!(
                    "yoi dev: no yoi.toml here, so nothing is granted (docs/configuration.md)"
                ),
            }
            for f in &config.plugins.folders {
                outln!("  watching {}", f.display());
            }
            outln!("  data root {}", data.display());
        },
    );
    for found in host.discover() {
        match &found.package {
            Ok(p) => out.event(
                json!({"event": "discovered", "dir": found.dir, "package": p}),
                || {
                    outln!(
                        "  found {}@{} in {} ({} hooks, {} tools, {} providers{})",
                        p.id,
                        p.version,
                        found.dir.display(),
                        p.hooks.len(),
                        p.tools.len(),
                        p.providers.len(),
                        if p.observes.is_empty() {
                            ""
                        } else {
                            ", observer"
                        }
                    )
                },
            ),
            Err(why) => out.event(
                json!({"event": "broken", "dir": found.dir, "problems": why}),
                || outln!("  broken package in {}:\n{why}", found.dir.display()),
            ),
        }
    }
    print_reloads(&host, host.reloads(), out, Follows::Folders)?;
    answer_stdin(&host, out, Follows::Folders, config.hot_reload())
}

/// Prints the boot report, then every reload's from `reloads` as it comes.
pub(crate) fn print_reloads(
    host: &Host,
    reloads: std::sync::mpsc::Receiver<ReloadReport>,
    out: Out,
    follows: Follows,
) -> Result<()> {
    if let Some(report) = host.boot_report() {
        print_report(out, &report, follows.gone());
    }
    std::thread::Builder::new()
        .name("yoi-reloads".into())
        .spawn(move || {
            for report in reloads {
                print_report(out, &report, follows.gone());
            }
        })
        .context("starting the reload printer")?;
    Ok(())
}

/// What a host's `reload` command reloads.
#[derive(Clone, Copy)]
pub(crate) enum Follows {
    /// The plugin folders (`yoi dev`).
    Folders,
    /// The registry (`yoi host`).
    Registry,
}

/// Answers test calls typed on stdin until `quit`; when stdin closes, goes
/// on running (a background host) if `keep_running`.
pub(crate) fn answer_stdin(
    host: &Host,
    out: Out,
    follows: Follows,
    keep_running: bool,
) -> Result<ExitCode> {
    if !out.json {
        outln!("{HELP}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" || line == "exit" {
            return Ok(ExitCode::SUCCESS);
        }
        if let Err(e) = command(host, &runtime, out, follows, line) {
            out.event(
                json!({"event": "error", "command": line, "message": format!("{e:#}")}),
                || outln!("error: {e:#}"),
            );
        }
    }
    if keep_running {
        out.event(json!({"event": "stdin_closed"}), || {
            outln!("stdin closed; still running (Ctrl-C stops)")
        });
        loop {
            std::thread::park();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of stdin.
fn command(
    host: &Host,
    runtime: &tokio::runtime::Runtime,
    out: Out,
    follows: Follows,
    line: &str,
) -> Result<()> {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let (name, payload) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
    let payload = || -> Result<Value> {
        serde_json::from_str(payload.trim()).with_context(|| {
            format!(
                "`{}` is not JSON; write a JSON object after the name",
                payload.trim()
            )
        })
    };
    match word {
        "help" => outln!("{HELP}"),
        "plugins" => {
            let plugins = host.plugins();
            out.event(json!({"event": "plugins", "plugins": plugins}), || {
                for p in &plugins {
                    outln!(
                        "  {}@{}  hooks {}  tools {}  providers {}",
                        p.id,
                        p.version,
                        p.hooks.len(),
                        p.tools.len(),
                        p.providers.len()
                    );
                }
            });
        }
        "reload" => {
            let report = match follows {
                Follows::Folders => host.reload_folders(),
                Follows::Registry => host.reload()?,
            };
            print_report(out, &report, follows.gone());
        }
        "hook" => {
            let point: HookPoint = name.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let dispatch = runtime.block_on(host.dispatch_json(point, None, payload()?))?;
            out.event(
                json!({"event": "result", "command": "hook", "point": point.as_str(), "dispatch": dispatch}),
                || {
                    for r in &dispatch.receipts {
                        print_receipt(r);
                    }
                    match &dispatch.blocked {
                        Some(b) => outln!("result: {}", b.message()),
                        None => outln!(
                            "result: {}",
                            serde_json::to_string(&dispatch.data).unwrap_or_default()
                        ),
                    }
                },
            );
        }
        "tool" => {
            let outcome = runtime.block_on(host.call_tool(ToolRequest {
                name: name.to_owned(),
                input: payload()?,
                call_id: "dev-1".into(),
                turn: 0,
            }));
            out.event(
                json!({"event": "result", "command": "tool", "outcome": outcome}),
                || {
                    for r in &outcome.receipts {
                        print_receipt(r);
                    }
                    if let Some(run) = &outcome.run {
                        print_logs(&run.logs);
                    }
                    outln!("status: {}", outcome.status.as_str());
                    outln!("result: {}", outcome.output);
                },
            );
        }
        "observe" => {
            host.observe(name, payload()?);
            out.event(json!({"event": "observed", "name": name}), || {
                outln!("observed {name}")
            });
        }
        other => anyhow::bail!("unknown command `{other}`; `help` lists them"),
    }
    Ok(())
}

/// Prints a reload; `gone` says why a plugin was unloaded.
fn print_report(out: Out, report: &ReloadReport, gone: &str) {
    out.event(json!({"event": "reload", "report": report}), || {
        for p in &report.loaded {
            outln!("loaded {}@{} ({})", p.id, p.version, p.digest);
        }
        for id in &report.unloaded {
            outln!("unloaded {id}: {gone}");
        }
        for r in &report.refused {
            let kept = r.kept_previous.as_ref().map_or(String::new(), |v| {
                format!("; {} {v} keeps running", r.plugin)
            });
            outln!("REFUSED {}: {}{kept}", r.plugin, r.reason);
        }
    });
}
