//! The official MCP tools the end-to-end tests check `yoi mcp` with: the
//! Python SDK (`mcp` from PyPI) as a client, the conformance suite
//! (`@modelcontextprotocol/conformance` from npm), which needs Node.js 22 or
//! newer: the machine's when it is new enough, else npm's `node` package;
//! and the reference server (`@modelcontextprotocol/server-everything`)
//! that `yoi mcp-server` fronts as a gateway.
//! Each is installed once into `target/tools` (pinned), into a fresh folder
//! renamed into place when complete, so an interrupted install is never
//! used.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The pinned Python SDK.
const PYTHON_SDK: (&str, &str) = ("mcp", "2.3.0");
/// The pinned conformance suite.
const CONFORMANCE: (&str, &str) = ("@modelcontextprotocol/conformance", "0.1.16");
/// The pinned reference server.
const EVERYTHING: (&str, &str) = ("@modelcontextprotocol/server-everything", "2026.8.31");
/// The Node.js line installed from npm when the machine's is older than
/// the suite needs.
const NODE: (&str, &str) = ("node", "22");
/// The oldest Node.js major the conformance suite runs on (it uses
/// `fs.globSync`).
const NODE_MAJOR: u32 = 22;

/// Where the tests find the tools: environment variables for `cargo test`.
pub struct McpTools {
    /// A folder to put on `PYTHONPATH` for `import mcp`.
    python_path: PathBuf,
    /// A Node.js 22+ binary.
    node: PathBuf,
    /// The conformance suite's entry script.
    conformance: PathBuf,
    /// The reference server's entry script.
    everything: PathBuf,
}

impl McpTools {
    /// `YOI_MCP_PYTHONPATH`, `YOI_MCP_NODE`, `YOI_MCP_CONFORMANCE`,
    /// `YOI_MCP_EVERYTHING`.
    pub fn env(&self) -> [(&'static str, &Path); 4] {
        [
            ("YOI_MCP_PYTHONPATH", &self.python_path),
            ("YOI_MCP_NODE", &self.node),
            ("YOI_MCP_CONFORMANCE", &self.conformance),
            ("YOI_MCP_EVERYTHING", &self.everything),
        ]
    }
}

/// Installs what is missing and says where everything is.
pub fn ensure(tools: &Path) -> Result<McpTools> {
    let python_path = installed(tools, "mcp-python", PYTHON_SDK.1, |into| {
        pip_install(into, PYTHON_SDK, "the MCP Python SDK")
    })?;
    let node = match system_node()? {
        Some(node) => node,
        None => {
            let dir = installed(tools, "node", NODE.1, |into| {
                npm_install(into, NODE.0, NODE.1)
            })?;
            let node = dir.join("node_modules").join(".bin").join("node");
            if !node.is_file() {
                bail!(
                    "npm's `{}@{}` package left no node binary at {}",
                    NODE.0,
                    NODE.1,
                    node.display()
                );
            }
            node
        }
    };
    let conformance = npm_file(tools, "mcp-conformance", CONFORMANCE, &["dist", "index.js"])?;
    let everything = npm_file(tools, "mcp-everything", EVERYTHING, &["dist", "index.js"])?;
    Ok(McpTools {
        python_path,
        node,
        conformance,
        everything,
    })
}

/// `node` on PATH when it is 22 or newer.
fn system_node() -> Result<Option<PathBuf>> {
    let Ok(out) = Command::new("node").arg("--version").output() else {
        return Ok(None);
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let major: Option<u32> = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok());
    Ok(major
        .filter(|m| *m >= NODE_MAJOR)
        .map(|_| PathBuf::from("node")))
}

/// Installs an npm package once into `tools/<name>-<version>` and returns
/// the file at `path` inside it, which must be there.
pub(crate) fn npm_file(
    tools: &Path,
    name: &str,
    (package, version): (&str, &str),
    path: &[&str],
) -> Result<PathBuf> {
    let dir = installed(tools, name, version, |into| {
        npm_install(into, package, version)
    })?;
    let file = path
        .iter()
        .fold(dir.join("node_modules").join(package), |p, part| {
            p.join(part)
        });
    if !file.is_file() {
        bail!(
            "npm's {package}@{version} left no {}; remove {} and run again",
            file.display(),
            dir.display()
        );
    }
    Ok(file)
}

/// `pip install --target INTO PACKAGE==VERSION` with `YOI_PYTHON` (else
/// `python3`), retried like every install; `what` names it in messages.
pub(crate) fn pip_install(into: &Path, package: (&str, &str), what: &str) -> Result<()> {
    pip_install_all(into, &[package], what)
}

/// [`pip_install`] of several packages in one command, so their shared
/// dependencies are installed once.
pub(crate) fn pip_install_all(into: &Path, packages: &[(&str, &str)], what: &str) -> Result<()> {
    let python = std::env::var("YOI_PYTHON").unwrap_or_else(|_| "python3".into());
    let specs: Vec<String> = packages.iter().map(|(p, v)| format!("{p}=={v}")).collect();
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-script-location",
        "--quiet",
        "--target",
    ])
    .arg(into)
    .args(&specs);
    run_install(
        pip,
        &format!(
            "{python} -m pip install {} ({what}; needs Python 3 with pip)",
            specs.join(" ")
        ),
    )
}

/// `npm install PACKAGE@VERSION` into `into` (retried, see `run`).
pub(crate) fn npm_install(into: &Path, package: &str, version: &str) -> Result<()> {
    npm_install_all(into, &[(package, version)])
}

/// `npm install` of several packages into `into` in one command (one
/// after another would prune the ones before: they are in no
/// package.json).
pub(crate) fn npm_install_all(into: &Path, packages: &[(&str, &str)]) -> Result<()> {
    std::fs::create_dir_all(into)?;
    let specs: Vec<String> = packages.iter().map(|(p, v)| format!("{p}@{v}")).collect();
    let mut npm = Command::new("npm");
    npm.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--no-save",
        "--prefix",
    ])
    .arg(into)
    .args(&specs);
    run_install(
        npm,
        &format!("npm install {} (needs Node.js with npm)", specs.join(" ")),
    )
}

/// Runs an install from a package index, three times at most: a registry
/// that drops one connection should not fail a CI run.
pub(crate) fn run_install(mut cmd: Command, what: &str) -> Result<()> {
    const ATTEMPTS: u32 = 3;
    let mut attempt = 1;
    loop {
        eprintln!("xtask: installing: {what}");
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not start {what}"))?;
        if out.status.success() {
            return Ok(());
        }
        let why = format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if attempt == ATTEMPTS {
            bail!(why);
        }
        eprintln!("xtask: {why}\nxtask: trying again in 5 s ({attempt} of {ATTEMPTS})");
        std::thread::sleep(std::time::Duration::from_secs(5));
        attempt += 1;
    }
}

/// `tools/<name>-<version>`, installed by `install` into a fresh folder
/// first when it is not there yet.
pub(crate) fn installed(
    tools: &Path,
    name: &str,
    version: &str,
    install: impl Fn(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let dir = tools.join(format!("{name}-{version}"));
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(tools).with_context(|| format!("creating {}", tools.display()))?;
    let partial = tools.join(format!(".{name}-{version}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let done =
        install(&partial).and_then(|()| Ok(std::fs::write(partial.join(".complete"), version)?));
    if let Err(e) = done {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)
        .with_context(|| format!("moving the install into {}", dir.display()))?;
    Ok(dir)
}
