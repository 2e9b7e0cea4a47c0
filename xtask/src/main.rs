//! Project automation: `cargo xtask <command>`.
//!
//! - `build-examples`: builds every guest under `examples/` as a component,
//!   copies it into its package folder and writes its digest into `plugin.toml`;
//!   the Python and JavaScript ones through `yoi plugin pack`, which installs
//!   their toolchains into `target/tools`.
//! - `e2e`: `build-examples`, then the end-to-end tests against those
//!   components, and the ops page in Chromium (installed with apt-get when
//!   missing). A throwaway PostgreSQL cluster (Debian's packages, installed
//!   when missing) serves the fleet tests and is stopped at the end. The
//!   MCP tests use the official Python SDK and conformance suite, installed
//!   from PyPI and npm into `target/tools`.
//! - `ci`: formatting, the docs' links, clippy, every test (`--locked`),
//!   then `e2e`. CI runs exactly this.
//! - `bench`: `build-examples`, then the host's criterion benchmarks, the
//!   load test of `yoi serve`, the registry's benchmarks on SQLite and
//!   PostgreSQL, and a fleet's propagation latency.
//! - `bench-embedding`: `dispatch` from Node and Python through release
//!   packages against the same call from Rust (also part of `bench`).
//! - `soak` (not in CI): the kill -9 crash test for 1000 cycles and the
//!   1000-concurrent-call test for three minutes, each printing what it
//!   checked.
//! - `postgres`: a throwaway PostgreSQL for running its tests by hand.
//! - `packages [--release]`: the Node package and the Python wheel into
//!   `target/packages/` (docs/embedding.md).
//! - `demo`: `build-examples`, then the example agent host (`examples/agent-host`)
//!   through the example plugins, every hook point in agent order, then the
//!   TypeScript and Python agents (`examples/ts-agent`, `examples/py-agent`)
//!   through the packages.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

mod agentclis;
mod layering;
mod links;
mod mcptools;
mod ociregistry;
mod packaged;
mod packages;
mod postgres;

const GUEST_TARGET: &str = "wasm32-wasip2";
const GUEST_PROFILE: &str = "guest";

const USAGE: &str = "usage: cargo xtask <command>

commands:
  build-examples  build the example plugins as components and fill their digests
  e2e             build-examples, then run the end-to-end tests
  ci              fmt check, links, clippy, all tests, then e2e (what CI runs)
  links           check the relative links and anchors of README.md and docs/
  layering        check that no crate's modules depend on each other in a circle
  packages [--release|--test]  build the Node package and the Python wheel into target/packages (--test: and run their suites)
  bench-embedding dispatch from Node and Python (release packages) against the same call from Rust
  demo            build-examples, then run the example agent hosts (Rust, TypeScript, Python) through them
  bench [ARGS]    build-examples, the host's criterion benchmarks (ARGS go to criterion), then yoi serve and yoi mcp under load, and yoi hook's wall time
  soak            the kill -9 crash test for 1000 cycles and 1000 concurrent calls for 3 minutes (not in ci)
  postgres        start a throwaway PostgreSQL for running the PostgreSQL tests by hand; prints
                  the environment to export, stops it on Enter";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("build-examples") => {
            build_examples(&root)?;
            build_language_examples(&root)
        }
        Some("e2e") => e2e(&root),
        Some("ci") => ci(&root),
        Some("links") => links::check(&root),
        Some("layering") => layering::check(&root),
        Some("demo") => demo(&root),
        Some("packages") => match args.get(1).map(String::as_str) {
            Some("--release") => packages::build(&root, packages::Profile::Release).map(drop),
            None => packages::build(&root, packages::Profile::Debug).map(drop),
            // The packages' suites, as `e2e` runs them (the example
            // components and `yoi` must be built: `cargo xtask e2e` once).
            Some("--test") => {
                let built = packages::build(&root, packages::Profile::Debug)?;
                let yoi = target_dir(&root).join("debug").join("yoi");
                packages::test(&root, &built, &yoi, &e2e_cache(&root))
            }
            Some(other) => bail!("unknown option `{other}` (packages takes --release or --test)"),
        },
        Some("bench") => bench(&root, &args[1..]),
        Some("bench-embedding") => bench_embedding(&root),
        Some("soak") => soak(&root),
        Some("postgres") => {
            let cluster = postgres::Cluster::start()?;
            for (key, value) in cluster.env() {
                println!("export {key}='{value}'");
            }
            eprintln!("xtask: press Enter to stop PostgreSQL");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Ok(())
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
        None => bail!("no command given\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command in `root`, echoing it, and fails if it fails.
fn step(root: &Path, mut cmd: Command) -> Result<()> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("xtask: $ {shown}");
    let started = Instant::now();
    let status = cmd
        .current_dir(root)
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    eprintln!("xtask: ok in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Installs the guest target with rustup when it is missing.
fn ensure_guest_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let installed = match installed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => bail!(
            "`rustup target list --installed` failed: {}\n  fix: repair the rustup installation, then retry",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => bail!(
            "rustup is needed to install the {GUEST_TARGET} target but could not be run ({e})\n  \
             fix: install Rust with rustup (https://rustup.rs), or add the {GUEST_TARGET} target to your toolchain yourself"
        ),
    };
    if installed.lines().any(|l| l.trim() == GUEST_TARGET) {
        return Ok(());
    }
    eprintln!("xtask: the {GUEST_TARGET} target is missing; installing it");
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status()
        .context("could not run `rustup target add`")?;
    if !status.success() {
        bail!(
            "`rustup target add {GUEST_TARGET}` failed ({status})\n  \
             fix: check the network or the toolchain, then run it by hand"
        );
    }
    Ok(())
}

/// Debian's Chromium and its WebDriver, where the packages put them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The chromedriver the browser test drives: `YOI_CHROMEDRIVER` when set,
/// else Debian's, installed with apt-get when missing. `None` (with a loud
/// message) only outside CI when it cannot be installed; in CI that fails.
fn ensure_browser() -> Result<Option<PathBuf>> {
    if let Some(given) = std::env::var_os("YOI_CHROMEDRIVER") {
        return Ok(Some(PathBuf::from(given)));
    }
    let present = || Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file();
    if !present() {
        eprintln!(
            "xtask: Chromium or chromedriver is missing; installing chromium and chromium-driver with apt-get"
        );
        let why = install_browser();
        if !present() {
            let why = why.err().map_or_else(String::new, |e| format!(": {e:#}"));
            if std::env::var_os("CI").is_some() {
                bail!(
                    "the browser test needs Debian's chromium and chromium-driver, and installing them failed{why}\n  \
                     fix: `apt-get install chromium chromium-driver` as root, or set YOI_CHROMEDRIVER to a chromedriver"
                );
            }
            eprintln!(
                "\n*** xtask: SKIPPING the browser test: chromium and chromium-driver could not be installed{why}.\n\
                 *** Install them (`sudo apt-get install chromium chromium-driver`) to run it; CI always does. ***\n"
            );
            return Ok(None);
        }
    }
    Ok(Some(PathBuf::from(CHROMEDRIVER)))
}

fn install_browser() -> Result<()> {
    apt_install(&["chromium", "chromium-driver"])
}

/// Whether xtask runs as root (then apt-get and `runuser` are used
/// directly; otherwise `sudo -n`, which never prompts).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs Debian packages with apt-get, refreshing the package lists once
/// if the first try fails.
fn apt_install(packages: &[&str]) -> Result<()> {
    let root = is_root();
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            // Never prompts: without a password-less sudo this fails at once.
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        let status = cmd
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("could not run apt-get")?;
        if !status.success() {
            bail!("`apt-get {}` failed ({status})", args.join(" "));
        }
        Ok(())
    };
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend_from_slice(packages);
    // The package lists of a fresh machine may be missing or stale.
    apt(&install).or_else(|_| {
        apt(&["update", "-q"])?;
        apt(&install)
    })
}

/// An example plugin in another language: a `plugin.toml` with
/// `[build] language` and no Cargo.toml, built by `yoi plugin pack`.
fn find_language_examples(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root.join("examples")).context("listing examples/")? {
        let dir = entry?.path();
        if !dir.join("plugin.toml").is_file() || dir.join("Cargo.toml").is_file() {
            continue;
        }
        let manifest = read_toml(&dir.join("plugin.toml"))?;
        if manifest
            .get("build")
            .and_then(|b| b.get("language"))
            .is_some()
        {
            found.push(dir);
        }
    }
    found.sort();
    Ok(found)
}

/// Builds the Python and JavaScript examples with the `yoi` binary, as an
/// author would: `yoi plugin pack` installs componentize-py and
/// componentize-js (pinned) into `target/tools` on first use and keeps
/// each component until its sources change.
fn build_language_examples(root: &Path) -> Result<()> {
    let examples = find_language_examples(root)?;
    // The `yoi` the end-to-end tests run, built with the same feature
    // resolution (`cargo build -p yoi-cli` would build a second copy of
    // much of the tree); after `cargo test --workspace` this does nothing.
    let mut cmd = e2e_tests();
    cmd.arg("--no-run");
    step(root, cmd)?;
    let yoi = target_dir(root).join("debug").join("yoi");
    let tools = target_dir(root).join("tools");
    for dir in examples {
        let mut pack = Command::new(&yoi);
        // Packing compiles each component once, as a host would load it:
        // into the compile cache the end-to-end tests read.
        pack.args(["plugin", "pack"])
            .arg(&dir)
            .env("YOI_TOOLS", &tools)
            .env("YOI_CACHE", e2e_cache(root));
        step(root, pack).with_context(|| {
            format!(
                "packing {} (Python examples need python3 with pip, JavaScript ones Node.js with npm)",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// `cargo test` of the end-to-end suites, with `--workspace` (not `-p`) so
/// feature resolution matches `cargo test --workspace` and nothing is
/// rebuilt.
fn e2e_tests() -> Command {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--workspace",
        "--locked",
        "--test",
        "e2e",
        "--test",
        "browser",
    ]);
    cmd
}

/// An example plugin: a guest crate with a `plugin.toml`.
struct Example {
    dir: PathBuf,
    crate_name: String,
    artifact: String,
}

fn find_examples(root: &Path) -> Result<Vec<Example>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.join("examples")];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            if path.join("plugin.toml").is_file() && path.join("Cargo.toml").is_file() {
                found.push(read_example(path)?);
            } else {
                dirs.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(found)
}

fn read_toml(path: &Path) -> Result<toml_edit::DocumentMut> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

fn read_example(dir: PathBuf) -> Result<Example> {
    let cargo = read_toml(&dir.join("Cargo.toml"))?;
    let manifest = read_toml(&dir.join("plugin.toml"))?;
    let crate_name = cargo["package"]["name"]
        .as_str()
        .with_context(|| format!("{}: Cargo.toml has no package.name", dir.display()))?
        .to_owned();
    let artifact = manifest["runtime"]["artifact"]
        .as_str()
        .with_context(|| format!("{}: plugin.toml has no runtime.artifact", dir.display()))?
        .to_owned();
    Ok(Example {
        dir,
        crate_name,
        artifact,
    })
}

/// Builds all examples in one cargo run, then packages each one.
fn build_examples(root: &Path) -> Result<Vec<Example>> {
    ensure_guest_target()?;
    let examples = find_examples(root)?;
    if examples.is_empty() {
        bail!(
            "no example plugins found under {}",
            root.join("examples").display()
        );
    }
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--profile",
        GUEST_PROFILE,
        "--target",
        GUEST_TARGET,
    ]);
    for ex in &examples {
        cmd.args(["-p", &ex.crate_name]);
    }
    step(root, cmd)?;

    let out_dir = target_dir(root).join(GUEST_TARGET).join(GUEST_PROFILE);
    for ex in &examples {
        let built = out_dir.join(format!("{}.wasm", ex.crate_name.replace('-', "_")));
        let bytes =
            std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
        let dest = ex.dir.join(&ex.artifact);
        std::fs::write(&dest, &bytes).with_context(|| format!("writing {}", dest.display()))?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let updated = write_digest(&ex.dir.join("plugin.toml"), &digest)?;
        eprintln!(
            "xtask: {:<32} {:>7} bytes  {digest}{}",
            dest.strip_prefix(root).unwrap_or(&dest).display(),
            bytes.len(),
            if updated { "  (digest updated)" } else { "" }
        );
    }
    Ok(examples)
}

/// Writes `runtime.digest`, keeping the rest of the file as it is. Returns
/// whether the file changed.
fn write_digest(path: &Path, digest: &str) -> Result<bool> {
    let mut doc = read_toml(path)?;
    if doc["runtime"]["digest"].as_str() == Some(digest) {
        return Ok(false);
    }
    let decor = doc["runtime"]["digest"]
        .as_value()
        .map(|v| v.decor().clone())
        .unwrap_or_default();
    let mut value = toml_edit::Value::from(digest);
    *value.decor_mut() = decor;
    doc["runtime"]["digest"] = toml_edit::Item::Value(value);
    std::fs::write(path, doc.to_string()).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

fn e2e(root: &Path) -> Result<()> {
    let postgres = postgres::Cluster::start()?;
    e2e_with(root, &postgres)
}

fn e2e_with(root: &Path, postgres: &postgres::Cluster) -> Result<()> {
    build_examples(root)?;
    build_language_examples(root)?;
    let pdk = packaged::check(root)?;
    // `--workspace` (not `-p`) keeps feature resolution identical to
    // `cargo test --workspace`, so nothing is rebuilt. Plugins generated by
    // `yoi plugin new` in these tests build against the packaged PDK: what
    // an author outside this repository gets.
    let browser = ensure_browser()?;
    // The official MCP client and conformance suite `yoi mcp` is checked
    // with.
    let mcp = mcptools::ensure(&target_dir(root).join("tools"))?;
    // The real agent CLIs `yoi hook` is checked with.
    let codex = agentclis::codex(&target_dir(root).join("tools"))?;
    let claude_code = agentclis::claude_code(&target_dir(root).join("tools"))?;
    // The OCI registry and the outside tools that read what `yoi push`
    // wrote; stopped when the tests end.
    let oci = ociregistry::Registry::start(&target_dir(root).join("tools"))?;
    let mut cmd = e2e_tests();
    cmd.envs(oci.env());
    cmd.envs(mcp.env())
        .env("YOI_CODEX", &codex)
        .env("YOI_CLAUDE_CODE", &claude_code);
    cmd.args(["--", "--ignored"])
        .env("YOI_PDK_PATH", &pdk)
        // Python and JavaScript plugins the tests generate pack with the
        // toolchains build-examples installed.
        .env("YOI_TOOLS", target_dir(root).join("tools"))
        // One compile cache for the hosts of both suites and the `yoi`
        // processes the tests start: a 12-18 MB Python or JavaScript
        // component is compiled once per run, not once per test.
        .env("YOI_CACHE", e2e_cache(root));
    if let Some(driver) = browser {
        cmd.env("YOI_CHROMEDRIVER", driver);
    }
    cmd.envs(postgres.env());
    step(root, cmd)?;
    host_examples(root)?;
    minimal_host(root)?;
    // The Node and Python packages, installed into scratch projects as a
    // user would, with their suites against the same components.
    let built = packages::build(root, packages::Profile::Debug)?;
    let yoi = target_dir(root).join("debug").join("yoi");
    packages::test(root, &built, &yoi, &e2e_cache(root))
}

/// Runs the embeddings of `crates/host/examples/` that the docs quote,
/// each against the plugin it is written for, and checks what they print:
/// `embed.rs` (docs/hooks.md and the README) blocks the shell call with the
/// guard; `build_pipeline.rs` (hook points of the host's own) stamps one
/// build and refuses another with the build guard.
fn host_examples(root: &Path) -> Result<()> {
    let runs: [(&str, &str, &[&str], &str); 2] = [
        (
            "embed",
            "guard",
            &["loaded example.guard@0.1.0 (1 hooks)", "blocked: "],
            "loaded the guard and blocked the shell call",
        ),
        (
            "build_pipeline",
            "build-guard",
            &[
                "loaded example.build-guard@0.1.0",
                "app: compiled as b-",
                "legacy: refused: blocked by plugin example.build-guard: --insecure is not allowed",
            ],
            "ran its own hook points through the build guard",
        ),
    ];
    for (example, plugin, expected, did) in runs {
        let exe = host_example(root, example)?;
        let out = Command::new(&exe)
            .arg(root.join("examples").join(plugin))
            .current_dir(root)
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || expected.iter().any(|e| !text.contains(e)) {
            bail!(
                "the {example} example did not do what the docs say ({did}): {}\n{text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        eprintln!("xtask: the {example} example {did}");
    }
    Ok(())
}

/// A built example of `yoi-host` (`cargo test --workspace` builds them;
/// alone, `e2e` builds it first).
fn host_example(root: &Path, name: &str) -> Result<PathBuf> {
    let exe = target_dir(root).join("debug").join("examples").join(name);
    if !exe.is_file() {
        let mut build = cargo();
        build.args(["build", "--locked", "-p", "yoi-host", "--example", name]);
        step(root, build)?;
    }
    Ok(exe)
}

/// The compile cache shared by `yoi plugin pack` in build-examples, the
/// `yoi` processes of the end-to-end tests and their hosts.
fn e2e_cache(root: &Path) -> PathBuf {
    target_dir(root).join("tmp").join("yoi-e2e-cache")
}

/// A host without its default features: no registry (so no SQLite), no
/// `https`, no `fs`. Checks the dependency tree, then runs the end-to-end
/// tests that load plugins from folders in that configuration.
fn minimal_host(root: &Path) -> Result<()> {
    let out = cargo()
        .args([
            "tree",
            "-p",
            "yoi-host",
            "--no-default-features",
            "--prefix",
            "none",
        ])
        .current_dir(root)
        .output()
        .context("could not run `cargo tree`")?;
    if !out.status.success() {
        bail!(
            "`cargo tree -p yoi-host --no-default-features` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    for heavy in [
        "rusqlite",
        "reqwest",
        "rustls",
        "yoi-registry",
        "hyper",
        "tokio-tungstenite",
    ] {
        if tree.lines().any(|l| l.starts_with(&format!("{heavy} "))) {
            bail!(
                "yoi-host without default features still depends on {heavy}\n  \
                 fix: put what brings it behind the feature that needs it (crates/host/Cargo.toml)"
            );
        }
    }
    eprintln!(
        "xtask: yoi-host --no-default-features: no rusqlite, reqwest, rustls, hyper or tokio-tungstenite"
    );
    let mut cmd = cargo();
    cmd.args([
        "test",
        "-p",
        "yoi-host",
        "--no-default-features",
        "--test",
        "e2e",
        "--",
        "--ignored",
    ]);
    step(root, cmd)
}

fn ci(root: &Path) -> Result<()> {
    let started = Instant::now();
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    step(root, fmt).context("formatting differs: run `cargo fmt --all`")?;
    links::check(root)?;
    layering::check(root)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    step(root, clippy)?;
    // One throwaway PostgreSQL for every suite; stopped when CI ends.
    let postgres = postgres::Cluster::start()?;
    let mut test = cargo();
    // `--locked`: CI tests the dependency versions Cargo.lock pins.
    test.args(["test", "--workspace", "--locked"])
        .envs(postgres.env());
    step(root, test)?;
    e2e_with(root, &postgres)?;
    eprintln!(
        "xtask: ci passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `dispatch` from Node and Python against the same call from Rust, alone:
/// the release build `--workspace` resolves like the packages' builds, so
/// the three share it.
fn bench_embedding(root: &Path) -> Result<()> {
    build_examples(root)?;
    let mut cmd = cargo();
    cmd.args(["bench", "--workspace", "--bench", "embedding"]);
    step(root, cmd)?;
    packages::bench(root)
}

fn bench(root: &Path, args: &[String]) -> Result<()> {
    build_examples(root)?;
    build_language_examples(root)?;
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "-p",
        "yoi-host",
        "--bench",
        "dispatch",
        "--bench",
        "tools",
        "--bench",
        "surfaces",
        "--bench",
        "services",
        "--bench",
        "languages",
        "--bench",
        "embedding",
        "--",
    ])
    .args(args);
    step(root, cmd)?;
    // The same dispatch from Node and from Python, through the release
    // packages.
    packages::bench(root)?;
    // Resident memory per plugin and per instance, and a million
    // dispatches without growth: sizes, not criterion.
    let mut memory = cargo();
    memory.args(["bench", "-p", "yoi-host", "--bench", "memory"]);
    step(root, memory)?;
    // The control plane under load: latency distributions, not criterion.
    let mut serve = cargo();
    serve.args(["bench", "-p", "yoi-cli", "--bench", "serve"]);
    step(root, serve)?;
    // `tools/call` through `yoi mcp` over stdio and HTTP against the same
    // call in process, and 16 HTTP clients at once.
    let mut mcp = cargo();
    mcp.args(["bench", "-p", "yoi-cli", "--bench", "mcp"]);
    step(root, mcp)?;
    // A remote MCP tool called through the gateway against the same call
    // made straight to the server.
    let mut gateway = cargo();
    gateway.args(["bench", "-p", "yoi-cli", "--bench", "mcp_gateway"]);
    step(root, gateway)?;
    // One `yoi hook claude-code` process per event, against a `jq` hook.
    let mut hook = cargo();
    hook.args(["bench", "-p", "yoi-cli", "--bench", "hook"]);
    step(root, hook)?;
    // The registry on SQLite and, beside it, on a throwaway PostgreSQL that
    // syncs commits like SQLite does; then a fleet's propagation latency
    // (p50/p99 over 100 changes, 4 hosts).
    let postgres = postgres::Cluster::start_durable()?;
    let mut registry = cargo();
    registry
        .args(["bench", "-p", "yoi-registry", "--bench", "registry", "--"])
        .args(args)
        .envs(postgres.env());
    step(root, registry)?;
    let mut propagation = e2e_tests();
    propagation
        .args([
            "fleet::changes_reach_every_host",
            "--",
            "--ignored",
            "--nocapture",
        ])
        .envs(postgres.env());
    step(root, propagation)
}

/// Long runs of the hostile tests, outside CI: their figures go in the
/// closing notes of hardening work and in docs/BENCHMARKS.md.
fn soak(root: &Path) -> Result<()> {
    build_examples(root)?;
    // Release: after each kill the test re-hashes every stored artifact,
    // thousands by the end.
    let mut kills = cargo();
    kills
        .args([
            "test",
            "--release",
            "-p",
            "yoi-registry",
            "--test",
            "processes",
            "a_process_killed_at_any_instant",
            "--",
            "--nocapture",
        ])
        .env("YOI_SOAK_KILLS", "1000");
    step(root, kills)?;
    let mut flood = cargo();
    flood
        .args([
            "test",
            "--workspace",
            "--test",
            "e2e",
            "concurrency::a_thousand_concurrent_calls",
            "--",
            "--ignored",
            "--nocapture",
        ])
        .env("YOI_SOAK_SECS", "180");
    step(root, flood)
}

fn demo(root: &Path) -> Result<()> {
    build_examples(root)?;
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "-p", "agent-host", "--"])
        .arg(root.join("examples/guard"))
        .arg(root.join("examples/redact"))
        .arg(root.join("examples/policy"))
        .arg(root.join("examples/weather"))
        .arg(root.join("examples/notes"))
        .arg(root.join("examples/openai-compat"))
        .arg(root.join("examples/usage-meter"))
        .arg(root.join("examples/chat-bridge"));
    step(root, cmd)?;
    packages::demo(root)
}
