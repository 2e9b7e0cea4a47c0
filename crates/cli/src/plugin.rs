//! `yoi plugin ...`: check and test a package locally.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use yoi_host::{
    Dispatch, EnvSecrets, HookPoint, Host, HostError, Receipt, SecretSource, Status, ToolOutcome,
    ToolRequest, ToolStatus,
};

/// A host for `plugin check` and `plugin test`, keeping compiled
/// components in the user's cache folder (`$YOI_CACHE`, else e.g.
/// `~/.cache/yoi/compiled`), so checking or testing the same build again
/// compiles nothing: a Python or JavaScript component takes seconds.
pub(crate) fn local_host() -> yoi_host::HostBuilder {
    let cache = std::env::var_os("YOI_CACHE")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("yoi").join("compiled")));
    let builder = with_compile_worker(Host::builder());
    match cache {
        Some(dir) => builder.compile_cache(dir),
        None => builder,
    }
}

/// The hidden subcommand that makes `yoi` its own compile worker.
pub(crate) const COMPILE_WORKER: &str = "__compile";

/// Most memory one compile may map, in the worker.
const COMPILE_MEMORY: u64 = 4 << 30;

/// Every host the CLI starts compiles in a child `yoi __compile`, killed at
/// the compile time limit (docs/hooks.md, "Compiling"). Where the program's
/// own path is unknown, compiles stay in the process.
pub(crate) fn with_compile_worker(builder: yoi_host::HostBuilder) -> yoi_host::HostBuilder {
    match std::env::current_exe() {
        Ok(exe) => builder.compile_worker(exe, [COMPILE_WORKER], COMPILE_MEMORY),
        Err(_) => builder,
    }
}

/// Whether `package` would load on a host: compiled in the worker and
/// linked, run and registered nowhere ([`Host::check`]).
pub(crate) fn check_package(
    package: yoi_manifest::Package,
) -> Result<yoi_host::PluginInfo, HostError> {
    local_host().build()?.check(package)
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

/// Opens a package folder (or its plugin.toml) or a `.yoi` archive, with
/// its signature checked (`signed`) or ignored (to be signed again).
pub(crate) fn open_package(
    dir: &Path,
    signed: bool,
) -> Result<yoi_manifest::Package, yoi_manifest::ArchiveError> {
    use yoi_manifest::{ArchiveError, Package};
    let compat = Host::compat();
    let archive = dir.is_file() && dir.extension().is_some_and(|e| e == "yoi");
    match (archive, signed) {
        (true, true) => Package::open_archive(dir, &compat),
        (true, false) => Package::open_archive_unsigned(dir, &compat),
        (false, true) => Package::open(dir, &compat).map_err(ArchiveError::Package),
        (false, false) => Package::open_unsigned(dir, &compat).map_err(ArchiveError::Package),
    }
}

pub(crate) fn check(path: &Path, json: bool) -> Result<ExitCode> {
    let dir = package_dir(path);
    let checked = yoi_manifest::Package::open(&dir, &Host::compat())
        .map_err(|diagnostics| HostError::Package {
            dir: dir.clone(),
            diagnostics,
        })
        .and_then(check_package);
    let (plugin, problems, error) = match checked {
        Ok(info) => (Some(info), None, None),
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
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else if let Some(info) = &report.plugin {
        let hooks: Vec<_> = info.hooks.iter().map(|h| h.point.as_str()).collect();
        outln!(
            "ok: {}@{} ({})\n  digest: {}\n  hooks: {}",
            info.id,
            info.version,
            dir.display(),
            info.digest,
            hooks.join(", ")
        );
    } else if let Some(problems) = &problems {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        crate::terminal::write_styled(&format!("{}\n", problems.render(color)));
    } else if let Some(e) = &report.error {
        outln!("error: {e}\n\n{}: 1 problem found", dir.display());
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

/// What `yoi plugin test` runs.
pub(crate) enum Run {
    /// A hook point, with the event file.
    Hook(HookPoint, PathBuf),
    /// A tool (its plugin.toml name), with the input file.
    Tool(String, PathBuf),
}

/// Secrets for a test run: `--secret KEY=VALUE`, then `$YOI_SECRET_<KEY>`.
struct TestSecrets {
    given: std::collections::HashMap<String, String>,
    env: EnvSecrets,
}

impl SecretSource for TestSecrets {
    fn get(&self, key: &str) -> Option<String> {
        self.given.get(key).cloned().or_else(|| self.env.get(key))
    }
}

/// A local host with the package loaded and granted everything it requests.
/// Setting values for `yoi plugin test`: `--config KEY=VALUE` (text for a
/// `string` setting, JSON for the others) over a `--config-file` (a JSON
/// object, or a TOML table for `.toml`).
pub(crate) struct TestConfig<'a> {
    pub(crate) pairs: &'a [String],
    pub(crate) file: Option<&'a Path>,
}

impl TestConfig<'_> {
    fn values(
        &self,
        manifest: &yoi_manifest::Manifest,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let usage = |m: String| anyhow::Error::from(crate::usage::UsageError(m));
        let mut values = serde_json::Map::new();
        if let Some(file) = self.file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading --config-file {}", file.display()))?;
            let parsed: serde_json::Value = if file.extension().is_some_and(|e| e == "toml") {
                let table: toml::Table = toml::from_str(&text).map_err(|e| {
                    usage(format!("--config-file {} is not TOML: {e}", file.display()))
                })?;
                serde_json::to_value(table)?
            } else {
                serde_json::from_str(&text).map_err(|e| {
                    usage(format!("--config-file {} is not JSON: {e}", file.display()))
                })?
            };
            let serde_json::Value::Object(object) = parsed else {
                return Err(usage(format!(
                    "--config-file {} must hold one object of settings",
                    file.display()
                )));
            };
            values.extend(object);
        }
        for pair in self.pairs {
            let (key, text) = pair
                .split_once('=')
                .ok_or_else(|| usage(format!("--config `{pair}` is not KEY=VALUE")))?;
            let setting = manifest.setting(key).ok_or_else(|| {
                let declared: Vec<&str> = manifest.config.iter().map(|s| s.name.as_str()).collect();
                usage(format!(
                    "--config: `{key}` is not a setting of {}; it declares: {}",
                    manifest.plugin.id,
                    if declared.is_empty() {
                        "none".to_owned()
                    } else {
                        declared.join(", ")
                    }
                ))
            })?;
            values.insert(key.to_owned(), setting.parse_value(text).map_err(usage)?);
        }
        Ok(values)
    }
}

fn test_host(
    dir: &Path,
    secrets: &[String],
    config: &TestConfig<'_>,
    data: &Path,
) -> Result<(Host, yoi_host::PluginInfo)> {
    let mut given = std::collections::HashMap::new();
    for pair in secrets {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            crate::usage::UsageError(format!("--secret `{pair}` is not KEY=VALUE"))
        })?;
        given.insert(k.to_owned(), v.to_owned());
    }
    let host = local_host()
        .data_dir(data)
        .secrets(TestSecrets {
            given,
            env: EnvSecrets::new("YOI_SECRET_"),
        })
        .build()?;
    let package = yoi_manifest::Package::open(dir, &Host::compat()).map_err(|diagnostics| {
        HostError::Package {
            dir: dir.to_path_buf(),
            diagnostics,
        }
    })?;
    let grants: Vec<String> = yoi_host::Capability::requested_by(package.manifest())
        .iter()
        .map(ToString::to_string)
        .collect();
    let values = config.values(package.manifest())?;
    let info = host.load_package_with_grants(package, &grants)?;
    if !values.is_empty() {
        host.configure(info.id.as_str(), values)?;
    }
    Ok((host, info))
}

pub(crate) fn test(
    path: &Path,
    what: Run,
    secrets: &[String],
    config: &TestConfig<'_>,
    data: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    let dir = package_dir(path);
    let temp;
    let data = match data {
        Some(d) => d,
        None => {
            temp = tempfile::tempdir().context("creating a temporary data root")?;
            temp.path().to_path_buf()
        }
    };
    let (host, info) = test_host(&dir, secrets, config, &data)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match what {
        Run::Hook(hook, payload) => test_hook(&host, &info, hook, &payload, &runtime, json),
        Run::Tool(tool, input) => test_tool(&host, &info, &tool, &input, &runtime, json),
    }
}

fn test_tool(
    host: &Host,
    info: &yoi_host::PluginInfo,
    tool: &str,
    input: &Path,
    runtime: &tokio::runtime::Runtime,
    json: bool,
) -> Result<ExitCode> {
    let name = format!("{}.{tool}", info.id);
    if !info.tools.contains(&name) {
        anyhow::bail!(
            "plugin {}@{} has no tool `{tool}` (its tools: {})",
            info.id,
            info.version,
            if info.tools.is_empty() {
                "none".to_owned()
            } else {
                info.tools
                    .iter()
                    .map(|t| t.rsplit('.').next().unwrap_or(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    let text = read_payload(input)?;
    let input: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("the input of `{tool}` is not JSON; give a JSON object"))?;
    let outcome = runtime.block_on(host.call_tool(ToolRequest {
        name,
        input,
        call_id: "test-1".into(),
        turn: 0,
    }));
    report_tool(&outcome, json)
}

fn report_tool(outcome: &ToolOutcome, json: bool) -> Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(outcome)?);
    } else {
        for r in &outcome.receipts {
            print_receipt(r);
        }
        if let Some(run) = &outcome.run {
            let status = serde_json::to_value(run.status)?;
            outln!(
                "tool {}@{}: {} in {:.1} ms",
                run.plugin,
                run.version,
                status.as_str().unwrap_or_default(),
                run.duration.as_secs_f64() * 1000.0
            );
            print_logs(&run.logs);
        }
        let status = serde_json::to_value(outcome.status)?;
        outln!("status: {}", status.as_str().unwrap_or_default());
        outln!("result: {}", outcome.output);
    }
    let failed = !matches!(outcome.status, ToolStatus::Ok | ToolStatus::Blocked);
    Ok(ExitCode::from(if failed { 1 } else { 0 }))
}

fn test_hook(
    host: &Host,
    info: &yoi_host::PluginInfo,
    hook: HookPoint,
    payload: &Path,
    runtime: &tokio::runtime::Runtime,
    json: bool,
) -> Result<ExitCode> {
    let text = read_payload(payload)?;
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
    let payload: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!("the payload is not JSON; give the fields of a {hook} event as a JSON object (see docs/hooks.md)")
    })?;
    let dispatch = runtime.block_on(host.dispatch_json(hook, None, payload))?;
    report(&dispatch, json)
}

fn report<E: Serialize>(dispatch: &Dispatch<E>, json: bool) -> Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(dispatch)?);
    } else {
        for r in &dispatch.receipts {
            print_receipt(r);
        }
        match &dispatch.blocked {
            Some(b) => outln!("result: {}", b.message()),
            None => outln!("result: {}", serde_json::to_string_pretty(&dispatch.data)?),
        }
    }
    let failed = dispatch.receipts.iter().any(|r| {
        matches!(
            r.status,
            Status::Error | Status::Timeout | Status::RejectedChange | Status::Busy
        )
    });
    Ok(ExitCode::from(if failed { 1 } else { 0 }))
}

pub(crate) fn print_receipt(r: &Receipt) {
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    outln!(
        "{} {}@{}: {status} in {:.1} ms",
        r.point,
        r.plugin,
        r.version,
        r.duration.as_secs_f64() * 1000.0
    );
    if !r.changed.is_empty() {
        outln!("  changed: {}", r.changed.join(", "));
    }
    if let Some(detail) = &r.detail {
        outln!("  detail: {detail}");
    }
    print_logs(&r.logs);
}

pub(crate) fn print_logs(logs: &[yoi_host::LogLine]) {
    for line in logs {
        let level = serde_json::to_value(line.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let fields = line.rendered_fields();
        let sep = if fields.is_empty() { "" } else { "  " };
        outln!("  log {level}: {}{sep}{fields}", line.message);
    }
}
