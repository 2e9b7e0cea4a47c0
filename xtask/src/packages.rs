//! `cargo xtask packages`: the Node package (the napi-rs crates; the addon
//! is the `cdylib` cargo builds, laid out as napi-rs names it) and the
//! Python wheel (PyO3, maturin from PyPI) built into `target/packages/`,
//! then installed into scratch projects the way a user would (`npm install
//! ./yoi-host-VERSION.tgz`, `pip install ./yoi_host-….whl`) to run their
//! test suites, type-check and run the examples.
//!
//! `@napi-rs/cli`'s `napi build` is not used: it always passes `--target`
//! and builds the one package alone, which compiles the whole tree a
//! second time (6 minutes measured) for what cargo has already built.
//!
//! Each outside tool is pinned and installed once into `target/tools`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::mcptools::{installed, npm_install_all, pip_install, pip_install_all};

/// The pinned TypeScript compiler, and Node's type declarations for it.
const TYPESCRIPT: (&str, &str) = ("typescript", "7.0.2");
const NODE_TYPES: (&str, &str) = ("@types/node", "20.19.43");
/// The pinned maturin.
const MATURIN: (&str, &str) = ("maturin", "1.16.0");
/// The pinned Python test and type tools.
const PYTEST: (&str, &str) = ("pytest", "9.2.0");
const PYTEST_ASYNCIO: (&str, &str) = ("pytest-asyncio", "1.5.0");
const MYPY: (&str, &str) = ("mypy", "2.4.1");

/// How the packages are compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Cargo's dev profile: what `cargo xtask ci` tests, sharing the
    /// workspace's debug build.
    Debug,
    /// Optimised: what users get and what `cargo xtask bench` measures.
    Release,
}

/// The built packages.
pub struct Packages {
    /// `target/packages/yoi-host-VERSION.tgz`.
    pub npm: PathBuf,
    /// `target/packages/yoi_host-VERSION-….whl`.
    pub wheel: PathBuf,
}

fn run(mut cmd: Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start: {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn output(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("could not start: {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The workspace's version, which both packages must carry.
pub fn workspace_version(root: &Path) -> Result<String> {
    let doc = crate::read_toml(&root.join("Cargo.toml"))?;
    doc["workspace"]["package"]["version"]
        .as_str()
        .map(str::to_owned)
        .context("Cargo.toml has no [workspace.package] version")
}

/// Refuses a package manifest whose version is not the workspace's: one
/// version for the crates and both packages.
fn check_versions(root: &Path, version: &str) -> Result<()> {
    let package = std::fs::read_to_string(root.join("bindings/node/package.json"))?;
    let npm = json_version(&package).unwrap_or_default();
    let pyproject = crate::read_toml(&root.join("bindings/python/pyproject.toml"))?;
    let py = pyproject["project"]["version"].as_str().unwrap_or_default();
    for (file, found) in [
        ("bindings/node/package.json", npm.as_str()),
        ("bindings/python/pyproject.toml", py),
    ] {
        if found != version {
            bail!(
                "{file} says version {found:?} but the workspace is {version}: write {version} there (the packages carry the crates' version)"
            );
        }
    }
    Ok(())
}

/// The first `"version": "…"` of a package.json (its own: it comes before
/// any dependency's).
fn json_version(text: &str) -> Option<String> {
    let at = text.find("\"version\"")?;
    let rest = text[at + "\"version\"".len()..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// Builds both packages.
pub fn build(root: &Path, profile: Profile) -> Result<Packages> {
    let version = workspace_version(root)?;
    check_versions(root, &version)?;
    let tools = crate::target_dir(root).join("tools");
    let out = crate::target_dir(root).join("packages");
    std::fs::create_dir_all(&out)?;
    let npm = node_package(root, &out, &version, profile)?;
    let wheel = python_wheel(root, &tools, &out, &version, profile)?;
    eprintln!("xtask: built {} and {}", npm.display(), wheel.display());
    Ok(Packages { npm, wheel })
}

/// Node's name for this platform, as napi-rs spells it in the addon's
/// file name (`yoi-host.linux-x64-gnu.node`).
fn node_platform() -> Result<String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => bail!("no Node.js architecture name is known for {other}"),
    };
    match std::env::consts::OS {
        "linux" => Ok(format!("linux-{arch}-gnu")),
        "macos" => Ok(format!("darwin-{arch}")),
        other => bail!("the yoi-host package is not built on {other} yet"),
    }
}

/// The addon `cargo test --workspace` built (bindings/node has an `rlib`
/// and a test, so its `cdylib` is built with the workspace's features);
/// building it again with `napi build` would compile the whole tree a
/// second time for one package (its explicit `--target` and one-package
/// features: 6 minutes measured).
fn workspace_addon(root: &Path) -> Result<PathBuf> {
    let mut cargo = crate::cargo();
    cargo
        .args([
            "test",
            "--workspace",
            "--locked",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(root);
    let messages = output(cargo, "cargo test --no-run (finding the addon)")?;
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_addon = message["reason"] == "compiler-artifact"
            && message["target"]["name"] == "yoi_node"
            && message["target"]["crate_types"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "cdylib"));
        if !is_addon {
            continue;
        }
        let found = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".so") || f.ends_with(".dylib"));
        if let Some(file) = found {
            return Ok(PathBuf::from(file));
        }
    }
    bail!(
        "cargo test --workspace built no yoi_node cdylib: bindings/node must keep its rlib and tests/"
    )
}

fn node_package(root: &Path, out: &Path, version: &str, profile: Profile) -> Result<PathBuf> {
    let stage = out.join("node");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage)?;
    let source = root.join("bindings/node");
    let addon = stage.join(format!("yoi-host.{}.node", node_platform()?));
    match profile {
        Profile::Debug => {
            std::fs::copy(workspace_addon(root)?, &addon).context("copying the addon")?;
        }
        Profile::Release => {
            // Both bindings at once, so they resolve their shared crates
            // alike and the wheel's build (maturin --release) reuses this.
            let mut cargo = crate::cargo();
            cargo
                .args([
                    "build",
                    "--release",
                    "--locked",
                    "-p",
                    "yoi-node",
                    "-p",
                    "yoi-python",
                ])
                .current_dir(root);
            run(cargo, "cargo build --release: the yoi-host addon")?;
            let built = crate::target_dir(root)
                .join("release")
                .join("libyoi_node.so");
            std::fs::copy(&built, &addon)
                .with_context(|| format!("copying {}", built.display()))?;
        }
    }
    for file in [
        "index.js",
        "index.mjs",
        "index.d.ts",
        "package.json",
        "README.md",
    ] {
        std::fs::copy(source.join(file), stage.join(file))
            .with_context(|| format!("copying bindings/node/{file}"))?;
    }
    // The hook points' declarations, from the hook table of this build.
    let mut declare = Command::new("node");
    declare
        .args([
            "-e",
            "process.stdout.write(require('./index.js').hookDeclarations())",
        ])
        .current_dir(&stage);
    let hooks = output(declare, "generating hooks.d.ts")?;
    std::fs::write(stage.join("hooks.d.ts"), hooks)?;
    let tarball = out.join(format!("yoi-host-{version}.tgz"));
    let _ = std::fs::remove_file(&tarball);
    let mut pack = Command::new("npm");
    pack.args(["pack", "--silent", "--pack-destination"])
        .arg(out)
        .current_dir(&stage);
    run(pack, "npm pack: yoi-host")?;
    if !tarball.is_file() {
        bail!("npm pack left no {}", tarball.display());
    }
    Ok(tarball)
}

/// `maturin build` into `out`, the one wheel it wrote.
fn maturin_build(root: &Path, maturin: &Path, out: &Path, profile: Profile) -> Result<PathBuf> {
    for old in std::fs::read_dir(out)?.filter_map(|e| e.ok().map(|e| e.path())) {
        if old.extension().is_some_and(|e| e == "whl") {
            std::fs::remove_file(&old)?;
        }
    }
    let mut build = Command::new(maturin);
    build
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("bindings/python/Cargo.toml"))
        .arg("--out")
        .arg(out)
        .env(
            "PYTHONPATH",
            maturin.parent().and_then(Path::parent).unwrap_or(root),
        )
        .current_dir(root);
    if profile == Profile::Release {
        build.arg("--release");
    }
    run(build, "maturin build: the yoi_host Python wheel")?;
    std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("maturin left no wheel")
}

fn python_wheel(
    root: &Path,
    tools: &Path,
    out: &Path,
    version: &str,
    profile: Profile,
) -> Result<PathBuf> {
    let dir = installed(tools, "maturin", MATURIN.1, |into| {
        pip_install(into, MATURIN, "maturin, the wheel builder")
    })?;
    let maturin = dir.join("bin").join("maturin");
    if !maturin.is_file() {
        bail!(
            "PyPI's maturin {} left no binary at {}; remove {} and run again",
            MATURIN.1,
            maturin.display(),
            dir.display()
        );
    }
    if profile == Profile::Debug {
        check_alignment(root)?;
    }
    let wheel = maturin_build(root, &maturin, out, profile)?;
    // hooks.py comes from the hook table of this build: import the
    // native module from the wheel, and build again if it changed.
    let hooks = python_declarations(&wheel, out)?;
    let file = root.join("bindings/python/python/yoi_host/hooks.py");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(hooks.as_str()) {
        std::fs::write(&file, &hooks)?;
        let wheel = maturin_build(root, &maturin, out, profile)?;
        check_wheel_name(&wheel, version)?;
        return Ok(wheel);
    }
    check_wheel_name(&wheel, version)?;
    Ok(wheel)
}

/// Each crate's features as `cargo tree` resolves them for `selection`.
fn features(
    root: &Path,
    selection: &[&str],
) -> Result<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>> {
    let mut tree = crate::cargo();
    tree.arg("tree")
        .args(selection)
        .args(["--locked", "-f", "{p} [{f}]", "--prefix", "none"])
        .current_dir(root);
    let text = output(tree, "cargo tree")?;
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for line in text.lines() {
        let Some((package, rest)) = line.split_once(" [") else {
            continue;
        };
        // `name vX.Y.Z (/path)` for workspace members: the name and version.
        let package: String = package.split(" (").next().unwrap_or(package).to_owned();
        let features = rest.split(']').next().unwrap_or_default();
        out.entry(package).or_default().extend(
            features
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    }
    Ok(out)
}

/// Warns when `maturin build` (which compiles yoi-python alone) would
/// resolve a shared crate with other features than `cargo test
/// --workspace`, and so compile it a second time: the lines to add to
/// bindings/python/Cargo.toml.
fn check_alignment(root: &Path) -> Result<()> {
    let workspace = features(root, &["--workspace", "-e", "normal,build,dev"])?;
    let wheel = features(root, &["-p", "yoi-python", "-e", "normal,build"])?;
    let mut missing = Vec::new();
    for (package, features) in &wheel {
        if let Some(all) = workspace.get(package)
            && all != features
        {
            let more: Vec<&String> = all.difference(features).collect();
            missing.push(format!("{package}: {more:?}"));
        }
    }
    if !missing.is_empty() {
        eprintln!(
            "xtask: warning: maturin will compile these again with other features than the workspace's build; add them with these features to bindings/python/Cargo.toml:\n  {}",
            missing.join("\n  ")
        );
    }
    Ok(())
}

fn check_wheel_name(wheel: &Path, version: &str) -> Result<()> {
    let name = wheel.file_name().unwrap_or_default().to_string_lossy();
    if !name.starts_with(&format!("yoi_host-{version}-")) {
        bail!("maturin wrote {name}, not yoi_host-{version}-…whl");
    }
    Ok(())
}

/// The generated `hooks.py`, from the native module inside `wheel`.
fn python_declarations(wheel: &Path, out: &Path) -> Result<String> {
    let unpacked = out.join("native-probe");
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked)?;
    let script = "import sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  name = next(n for n in z.namelist() if n.startswith('yoi_host/_native'))\n\
                  open(sys.argv[2] + '/_native.so', 'wb').write(z.read(name))\n\
                  sys.path.insert(0, sys.argv[2])\n\
                  import _native\n\
                  sys.stdout.write(_native.hook_declarations())\n";
    let mut python = Command::new(python());
    python.args(["-c", script]).arg(wheel).arg(&unpacked);
    let text = output(python, "generating yoi_host/hooks.py")?;
    let _ = std::fs::remove_dir_all(&unpacked);
    Ok(text)
}

fn python() -> String {
    std::env::var("YOI_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// TypeScript and Node's type declarations, installed once.
fn typescript(tools: &Path) -> Result<PathBuf> {
    let dir = installed(tools, "typescript", TYPESCRIPT.1, |into| {
        npm_install_all(into, &[TYPESCRIPT, NODE_TYPES])
    })?;
    Ok(dir.join("node_modules"))
}

/// pytest, pytest-asyncio and mypy, installed once: a folder for
/// `PYTHONPATH`.
fn python_tools(tools: &Path) -> Result<PathBuf> {
    let version = format!("{}-{}-{}", PYTEST.1, PYTEST_ASYNCIO.1, MYPY.1);
    installed(tools, "pytools", &version, |into| {
        pip_install_all(
            into,
            &[PYTEST, PYTEST_ASYNCIO, MYPY],
            "pytest, pytest-asyncio and mypy",
        )
    })
}

/// A fresh scratch Node project with the tarball installed, as a user
/// would: `npm install ./yoi-host-VERSION.tgz`.
fn node_project(dir: &Path, tarball: &Path, types: Option<&Path>) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("package.json"),
        "{ \"name\": \"scratch\", \"private\": true }\n",
    )?;
    let mut npm = Command::new("npm");
    npm.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--offline",
    ])
    .arg(tarball)
    .current_dir(dir);
    run(npm, &format!("npm install {}", tarball.display()))?;
    if let Some(types) = types {
        let at = dir.join("node_modules").join("@types");
        std::fs::create_dir_all(&at)?;
        std::os::unix::fs::symlink(types.join("@types").join("node"), at.join("node"))?;
    }
    Ok(())
}

/// A fresh virtual environment with the wheel installed, as a user would:
/// `pip install ./yoi_host-….whl`. Answers its python.
fn python_project(dir: &Path, wheel: &Path) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    let mut venv = Command::new(python());
    venv.args(["-m", "venv"]).arg(dir);
    run(venv, "python3 -m venv (a scratch environment)")?;
    let python = dir.join("bin").join("python");
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--disable-pip-version-check",
    ])
    .arg(wheel);
    run(pip, &format!("pip install {}", wheel.display()))?;
    Ok(python)
}

/// Where the suites find the examples, `yoi` and the compile cache.
fn suite_env(cmd: &mut Command, root: &Path, yoi: &Path, cache: &Path) {
    cmd.env("YOI_EXAMPLES", root.join("examples"))
        .env("YOI_BIN", yoi)
        .env("YOI_CACHE", cache);
}

/// Runs both packages' suites from scratch projects, type-checks the
/// examples and runs them.
pub fn test(root: &Path, packages: &Packages, yoi: &Path, cache: &Path) -> Result<()> {
    let tools = crate::target_dir(root).join("tools");
    let out = crate::target_dir(root).join("packages");

    // Node: the test runner over the suite, from a scratch project.
    let project = out.join("node-scratch");
    node_project(&project, &packages.npm, None)?;
    copy_dir(&root.join("bindings/node/test"), &project.join("test"))?;
    let mut node = Command::new("node");
    node.args(["--expose-gc", "--test", "--test-concurrency=1"])
        .arg(project.join("test"))
        .current_dir(&project);
    suite_env(&mut node, root, yoi, cache);
    run(node, "node --test: the yoi-host package's suite")?;

    // TypeScript: the example type-checks against the package's
    // declarations (tsc --noEmit), then compiles and runs.
    let ts = typescript(&tools)?;
    let agent = out.join("ts-agent");
    node_project(&agent, &packages.npm, Some(&ts))?;
    for file in ["agent.ts", "tsconfig.json"] {
        std::fs::copy(root.join("examples/ts-agent").join(file), agent.join(file))?;
    }
    let tsc = ts.join(".bin").join("tsc");
    let mut check = Command::new(&tsc);
    check.args(["--noEmit", "-p"]).arg(&agent);
    run(check, "tsc --noEmit over examples/ts-agent")?;
    ts_agent(root, &agent, &tsc, Some(cache))?;

    // Python: pytest over the suite from a scratch environment, then mypy
    // over the example.
    let pytools = python_tools(&tools)?;
    let venv = out.join("py-scratch");
    let python = python_project(&venv, &packages.wheel)?;
    let tests = venv.join("tests");
    copy_dir(&root.join("bindings/python/tests"), &tests)?;
    let mut pytest = Command::new(&python);
    pytest
        .args([
            "-m",
            "pytest",
            "-q",
            "-s",
            "-o",
            "asyncio_mode=auto",
            "-p",
            "no:cacheprovider",
        ])
        .arg(&tests)
        .env("PYTHONPATH", &pytools)
        .current_dir(&venv);
    suite_env(&mut pytest, root, yoi, cache);
    run(pytest, "pytest: the yoi_host package's suite")?;
    let mut mypy = Command::new(&python);
    mypy.args(["-m", "mypy", "--strict", "--no-incremental"])
        .arg(root.join("examples/py-agent/agent.py"))
        .env("PYTHONPATH", &pytools)
        .env("MYPYPATH", "")
        .current_dir(&venv);
    run(mypy, "mypy --strict over examples/py-agent")?;
    py_agent(root, &python, Some(cache))
}

/// What both agents must print: the guard, redact and policy at work.
const AGENT_SAYS: [&str; 5] = [
    "loaded example.guard@0.1.0",
    "BLOCKED: tool `shell` is on the deny list",
    "api_key=sk-****",
    "-> not created: blocked by plugin example.policy",
    "-> model call skipped, the run ends",
];

fn check_agent(name: &str, out: std::process::Output) -> Result<()> {
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let missing: Vec<&&str> = AGENT_SAYS.iter().filter(|s| !text.contains(**s)).collect();
    if !out.status.success() || !missing.is_empty() {
        bail!(
            "{name} did not do what docs/embedding.md says ({}; missing {missing:?}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("xtask: {name} ran the agent loop through the guard, redact and policy");
    Ok(())
}

fn agent_plugins(root: &Path) -> Vec<PathBuf> {
    ["guard", "redact", "policy"]
        .iter()
        .map(|p| root.join("examples").join(p))
        .collect()
}

/// Compiles and runs examples/ts-agent in `project`.
fn ts_agent(root: &Path, project: &Path, tsc: &Path, cache: Option<&Path>) -> Result<()> {
    let mut emit = Command::new(tsc);
    emit.arg("-p").arg(project);
    run(emit, "tsc: compiling examples/ts-agent")?;
    let mut node = Command::new("node");
    node.arg(project.join("agent.js"))
        .args(agent_plugins(root))
        .current_dir(project);
    if let Some(cache) = cache {
        node.env("YOI_CACHE", cache);
    }
    let out = node.output().context("running examples/ts-agent")?;
    check_agent("examples/ts-agent", out)
}

fn py_agent(root: &Path, python: &Path, cache: Option<&Path>) -> Result<()> {
    let mut agent = Command::new(python);
    agent
        .arg(root.join("examples/py-agent/agent.py"))
        .args(agent_plugins(root));
    if let Some(cache) = cache {
        agent.env("YOI_CACHE", cache);
    }
    let out = agent.output().context("running examples/py-agent")?;
    check_agent("examples/py-agent", out)
}

/// Builds the packages and runs both examples (`cargo xtask demo`).
pub fn demo(root: &Path) -> Result<()> {
    let packages = build(root, Profile::Debug)?;
    let tools = crate::target_dir(root).join("tools");
    let out = crate::target_dir(root).join("packages");
    let ts = typescript(&tools)?;
    let agent = out.join("ts-agent");
    node_project(&agent, &packages.npm, Some(&ts))?;
    for file in ["agent.ts", "tsconfig.json"] {
        std::fs::copy(root.join("examples/ts-agent").join(file), agent.join(file))?;
    }
    ts_agent(root, &agent, &ts.join(".bin").join("tsc"), None)?;
    let python = python_project(&out.join("py-scratch"), &packages.wheel)?;
    py_agent(root, &python, None)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap_or_default()))?;
        }
    }
    Ok(())
}

/// `dispatch` from Node and from Python (`bindings/*/bench`) with release
/// builds, in scratch projects; each prints one JSON line per figure, held
/// against `cargo bench --workspace --bench embedding` (the same release
/// build of every shared crate: bindings/python's feature list keeps
/// them aligned).
pub fn bench(root: &Path) -> Result<()> {
    let out = crate::target_dir(root).join("packages");
    let tools = crate::target_dir(root).join("tools");
    let version = workspace_version(root)?;
    let packages = Packages {
        npm: node_package(root, &out, &version, Profile::Release)?,
        wheel: python_wheel(root, &tools, &out, &version, Profile::Release)?,
    };
    let project = out.join("node-bench");
    node_project(&project, &packages.npm, None)?;
    std::fs::copy(
        root.join("bindings/node/bench/dispatch.mjs"),
        project.join("dispatch.mjs"),
    )?;
    let mut node = Command::new("node");
    node.arg(project.join("dispatch.mjs"))
        .env("YOI_EXAMPLES", root.join("examples"))
        .current_dir(&project);
    run(node, "node bindings/node/bench/dispatch.mjs")?;
    let python = python_project(&out.join("py-bench"), &packages.wheel)?;
    let mut py = Command::new(&python);
    py.arg(root.join("bindings/python/bench/dispatch.py"))
        .env("YOI_EXAMPLES", root.join("examples"));
    run(py, "python bindings/python/bench/dispatch.py")
}
