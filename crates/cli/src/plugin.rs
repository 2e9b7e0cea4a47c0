//! `yoi plugin ...`: check and test a package locally.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use yoi_host::{Dispatch, HookPoint, Host, HostError, Receipt, Status};

pub(crate) fn load(dir: &Path) -> Result<(Host, yoi_host::PluginInfo), HostError> {
    let host = Host::builder().build()?;
    let info = host.load(dir)?;
    Ok((host, info))
}

#[derive(Serialize)]
struct CheckReport<'a> {
    ok: bool,
    package: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<yoi_host::PluginInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    diagnostics: Vec<yoi_manifest::Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `DIR` or `DIR/plugin.toml` → `DIR`.
pub(crate) fn package_dir(path: &Path) -> PathBuf {
    if path.is_file()
        && path
            .file_name()
            .is_some_and(|n| n == yoi_manifest::MANIFEST_FILE)
    {
        path.parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."))
    } else {
        path.to_path_buf()
    }
}

pub(crate) fn check(path: &Path, json: bool) -> Result<ExitCode> {
    let dir = package_dir(path);
    let (plugin, problems, error) = match load(&dir) {
        Ok((_, info)) => (Some(info), None, None),
        Err(HostError::Package { diagnostics, .. }) => (None, Some(diagnostics), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    let report = CheckReport {
        ok: plugin.is_some(),
        package: &dir,
        plugin,
        file: problems.as_ref().map(|d| d.file().to_owned()),
        diagnostics: problems
            .as_ref()
            .map_or_else(Vec::new, |d| d.items().to_vec()),
        error,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if let Some(info) = &report.plugin {
        let hooks: Vec<_> = info.hooks.iter().map(|h| h.point.as_str()).collect();
        println!(
            "ok: {}@{} ({})\n  digest: {}\n  hooks: {}",
            info.id,
            info.version,
            dir.display(),
            info.digest,
            hooks.join(", ")
        );
    } else if let Some(problems) = &problems {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        println!("{}", problems.render(color));
    } else if let Some(e) = &report.error {
        println!("error: {e}\n\n{}: 1 problem found", dir.display());
    }
    Ok(ExitCode::from(if report.ok { 0 } else { 1 }))
}

fn read_payload(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the payload from standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the payload file {}", path.display()))
    }
}

pub(crate) fn test(dir: &Path, hook: HookPoint, payload: &Path, json: bool) -> Result<ExitCode> {
    let text = read_payload(payload)?;
    let (host, info) = load(dir)?;
    if info.hooks.iter().all(|h| h.point != hook) {
        anyhow::bail!(
            "plugin {}@{} does not declare hook {hook} (it declares: {})",
            info.id,
            info.version,
            info.hooks
                .iter()
                .map(|h| h.point.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let payload: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!("the payload is not JSON; give the fields of a {hook} event as a JSON object (see docs/hooks.md)")
    })?;
    let dispatch = runtime.block_on(host.dispatch_json(hook, None, payload))?;
    report(&dispatch, json)
}

fn report<E: Serialize>(dispatch: &Dispatch<E>, json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(dispatch)?);
    } else {
        for r in &dispatch.receipts {
            print_receipt(r);
        }
        match &dispatch.blocked {
            Some(b) => println!("result: {}", b.message()),
            None => println!("result: {}", serde_json::to_string_pretty(&dispatch.data)?),
        }
    }
    let failed = dispatch.receipts.iter().any(|r| {
        matches!(
            r.status,
            Status::Error | Status::Timeout | Status::RejectedChange
        )
    });
    Ok(ExitCode::from(if failed { 1 } else { 0 }))
}

fn print_receipt(r: &Receipt) {
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    println!(
        "{} {}@{}: {status} in {:.1} ms",
        r.point,
        r.plugin,
        r.version,
        r.duration.as_secs_f64() * 1000.0
    );
    if !r.changed.is_empty() {
        println!("  changed: {}", r.changed.join(", "));
    }
    if let Some(detail) = &r.detail {
        println!("  detail: {detail}");
    }
    for line in &r.logs {
        let level = serde_json::to_value(line.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let fields = line.rendered_fields();
        let sep = if fields.is_empty() { "" } else { "  " };
        println!("  log {level}: {}{sep}{fields}", line.message);
    }
}
