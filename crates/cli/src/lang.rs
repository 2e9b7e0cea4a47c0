//! Python and JavaScript plugins: the pinned toolchains (installed into the
//! user's data folder on first use), the world and glue generated from
//! plugin.toml, the PDK module written beside the handlers, and the build.
//! docs/authoring.md describes what authors see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};
use yoi_manifest::{Digest, HookPoint, Language, Manifest};

/// The contract the Python and JavaScript PDKs target: the newest.
pub(crate) const CONTRACT: &str = yoi_manifest::ContractVersion::CURRENT_STR;

/// A toolchain `pack` installs from a public registry, pinned.
pub(crate) struct Toolchain {
    /// The package, as its registry names it.
    pub package: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// The registry, in words.
    pub registry: &'static str,
    /// The folder name under the tools folder.
    folder: &'static str,
}

/// componentize-py, from PyPI.
pub(crate) const COMPONENTIZE_PY: Toolchain = Toolchain {
    package: "componentize-py",
    version: "0.25.1",
    registry: "PyPI",
    folder: "componentize-py-0.25.1",
};

/// componentize-js, from the npm registry.
pub(crate) const COMPONENTIZE_JS: Toolchain = Toolchain {
    package: "@bytecodealliance/componentize-js",
    version: "0.23.0",
    registry: "the npm registry",
    folder: "componentize-js-0.23.0",
};

/// The Python PDK module, written beside the handlers as `yoi.py`, with
/// `{{contract}}` standing for the contract string.
const PYTHON_PDK: &str = include_str!("../templates/yoi.py");
/// The JavaScript PDK module, written beside the handlers as `yoi.js`,
/// with `{{contract}}` and `{{version}}` standing for the contract string
/// and its version.
const JS_PDK: &str = include_str!("../templates/yoi.js");

// The WIT of the contract (`CONTRACT_WIT`), from the PDK's frozen folder
// of the newest version (build.rs).
include!(concat!(env!("OUT_DIR"), "/contract_wit.rs"));

/// The newest contract's version, e.g. `0.5.0`.
fn contract_version() -> &'static str {
    CONTRACT.rsplit_once('@').map_or("", |(_, v)| v)
}

/// The host APIs every Python and JavaScript plugin imports (their PDKs
/// wrap them all; grants decide what each call may reach): what the
/// contract's `hook-plugin` and `plugin` worlds import, in order.
fn host_apis() -> Vec<&'static str> {
    let worlds = CONTRACT_WIT
        .iter()
        .find(|(name, _)| *name == "worlds.wit")
        .map_or("", |(_, text)| *text);
    ["hook-plugin", "plugin"]
        .iter()
        .flat_map(|world| {
            let body = worlds
                .split(&format!("world {world} {{"))
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .unwrap_or_default();
            body.lines()
                .filter_map(|l| l.trim().strip_prefix("import "))
                .map(|l| l.trim_end_matches(';').trim())
        })
        .collect()
}

/// The source files a JavaScript build reads.
const JS_EXTENSIONS: &[&str] = &["js", "mjs"];
/// The generated entry of a JavaScript build, beside the copied sources.
const JS_ENTRY: &str = "__yoi_entry.js";

/// Where generated files and the build cache go, inside the package folder.
pub(crate) const BUILD_DIR: &str = ".yoi-build";

/// The folder the toolchains are installed into: `$YOI_TOOLS`, else
/// `<data folder>/yoi/toolchains`.
fn tools_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("YOI_TOOLS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|d| d.join("yoi").join("toolchains"))
        .context("no user data folder is known on this system; set YOI_TOOLS to a folder for Yoi's build tools")
}

/// Runs `cmd`, keeping its output; `what` names it in errors.
fn run(mut cmd: Command, what: &str) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {what}"))
}

/// The last lines of a tool's error output, for an error message.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    // Stack frames say where in the tool, not what is wrong.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("at "))
        .collect();
    lines[lines.len().saturating_sub(12)..].join("\n  ")
}

impl Toolchain {
    /// The installed toolchain's folder, installing it first when missing.
    /// An install lands in a fresh folder renamed into place when complete,
    /// so an interrupted one is never used.
    pub(crate) fn ensure(&self, install: impl Fn(&Path) -> Result<()>) -> Result<PathBuf> {
        let root = tools_dir()?;
        let dir = root.join(self.folder);
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
        errln!(
            "      installing {} {} from {} into {}",
            self.package,
            self.version,
            self.registry,
            root.display()
        );
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let partial = root.join(format!(".{}.{}", self.folder, std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        let installed = install(&partial)
            .and_then(|()| Ok(std::fs::write(partial.join(".complete"), self.version)?));
        if let Err(e) = installed {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&partial, &dir).is_err() {
            // Another pack finished the same install first.
            let _ = std::fs::remove_dir_all(&partial);
            if !dir.join(".complete").is_file() {
                bail!(
                    "could not move the installed {} into {}",
                    self.package,
                    dir.display()
                );
            }
        }
        Ok(dir)
    }

    fn unreachable(&self, tool: &str, out: &Output, hint: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "could not install {} {} from {} ({tool} {}):\n  {}\n  fix: check that {} can be reached{hint}, then pack again",
            self.package,
            self.version,
            self.registry,
            out.status,
            tail(&out.stderr),
            self.registry,
        )
    }
}

fn python() -> String {
    std::env::var("YOI_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Installs componentize-py with pip.
fn install_componentize_py(into: &Path) -> Result<()> {
    let t = &COMPONENTIZE_PY;
    let mut cmd = Command::new(python());
    cmd.args([
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
    .arg(format!("{}=={}", t.package, t.version));
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        anyhow::anyhow!(
            "Python plugins are built with {} {} from PyPI, which needs Python 3 with pip, but `{} -m pip` could not be started ({e})\n  \
             fix: install Python 3 and pip (e.g. `apt-get install python3 python3-pip`), or set YOI_PYTHON to a Python 3 interpreter, then pack again",
            t.package,
            t.version,
            python()
        )
    })?;
    if !out.status.success() {
        if String::from_utf8_lossy(&out.stderr).contains("No module named pip") {
            bail!(
                "Python plugins are built with {} {} from PyPI, but `{} -m pip` says pip is missing\n  fix: install pip (e.g. `apt-get install python3-pip`), then pack again",
                t.package,
                t.version,
                python()
            );
        }
        return Err(t.unreachable("pip", &out, " (or set PIP_INDEX_URL to a mirror)"));
    }
    Ok(())
}

/// Installs componentize-js with npm.
fn install_componentize_js(into: &Path) -> Result<()> {
    let t = &COMPONENTIZE_JS;
    std::fs::create_dir_all(into)?;
    let mut cmd = Command::new("npm");
    cmd.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        "--prefix",
    ])
    .arg(into)
    .arg(format!("{}@{}", t.package, t.version));
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        anyhow::anyhow!(
            "JavaScript plugins are built with {} {} from the npm registry, which needs Node.js 18 or newer with npm, but `npm` could not be started ({e})\n  \
             fix: install Node.js and npm (e.g. `apt-get install nodejs npm`), then pack again",
            t.package,
            t.version
        )
    })?;
    if !out.status.success() {
        return Err(t.unreachable("npm", &out, " (or set npm_config_registry to a mirror)"));
    }
    Ok(())
}

/// Detects the language of the package in `dir`: `[build] language`, else
/// a `Cargo.toml` (Rust), the entry module (`app.py`, `app.js`), else an
/// error listing what was looked for.
pub(crate) fn detect(dir: &Path, manifest: &Manifest) -> Result<Language> {
    if let Some(l) = manifest.build.language {
        return Ok(l);
    }
    if dir.join("Cargo.toml").is_file() {
        return Ok(Language::Rust);
    }
    for l in [Language::Python, Language::JavaScript] {
        if let Some(entry) = manifest.build.entry_for(l)
            && l.entry_extensions()
                .iter()
                .any(|e| entry.ends_with(&format!(".{e}")))
            && dir.join(entry).is_file()
        {
            return Ok(l);
        }
    }
    bail!(
        "{} holds no plugin source that Yoi builds: no Cargo.toml (Rust), app.py (Python) or app.js (JavaScript)\n  \
         fix: create one with `yoi plugin new NAME [--lang python|js]`, or set `[build] language` and `entry` in plugin.toml; \
         to check a package that is already built, use `yoi plugin check`",
        dir.display()
    )
}

/// What one Python or JavaScript plugin exports, derived from plugin.toml.
struct Exports {
    /// The `[[hooks]]` points of Yoi's own.
    hooks: Vec<HookPoint>,
    /// Whether `[[hooks]]` names points the host declares (one export,
    /// `host-hooks`, handles them all).
    host_hooks: bool,
    /// The `[[tools]]` names.
    tools: Vec<String>,
}

fn exports_of(manifest: &Manifest, language: Language) -> Result<Exports> {
    let id = &manifest.plugin;
    if manifest.plugin.contract.to_string() != CONTRACT {
        bail!(
            "{}@{} targets {}, but the {language} PDK targets {CONTRACT}\n  fix: set `contract = \"{CONTRACT}\"` under [plugin] in plugin.toml",
            id.id,
            id.version,
            manifest.plugin.contract
        );
    }
    if !manifest.providers.is_empty()
        || manifest.observer.is_some()
        || !manifest.services.is_empty()
    {
        bail!(
            "{}@{} declares providers, an observer or services; {language} plugins have hooks and tools \
             (docs/authoring.md)\n  fix: keep those in a Rust plugin (`yoi plugin new NAME --provider/--observer/--service`)",
            id.id,
            id.version
        );
    }
    Ok(Exports {
        hooks: manifest
            .hooks
            .iter()
            .map(|h| h.point)
            .filter(|p| p.host().is_none())
            .collect(),
        host_hooks: manifest.hooks.iter().any(|h| h.point.host().is_some()),
        tools: manifest.tools.iter().map(|t| t.name.clone()).collect(),
    })
}

/// The world a plugin is built against: every host API imported, the
/// declared hooks (and `tools`) exported.
fn world(exports: &Exports) -> String {
    let version = contract_version();
    let mut w = String::from(
        "// Generated by `yoi plugin pack` from plugin.toml; do not edit.\npackage yoi:build;\n\nworld plugin {\n",
    );
    for api in host_apis() {
        w.push_str(&format!("    import yoi:plugin/{api}@{version};\n"));
    }
    for point in &exports.hooks {
        w.push_str(&format!(
            "    export yoi:plugin/{}@{version};\n",
            point.wit_interface()
        ));
    }
    if exports.host_hooks {
        w.push_str(&format!("    export yoi:plugin/host-hooks@{version};\n"));
    }
    if !exports.tools.is_empty() {
        w.push_str(&format!("    export yoi:plugin/tools@{version};\n"));
    }
    w.push_str("}\n");
    w
}

/// `tool-pre-exec` → `toolPreExec`, the JavaScript export's name.
fn camel(iface: &str) -> String {
    let mut out = String::new();
    for (i, part) in iface.split('-').enumerate() {
        let mut chars = part.chars();
        if i > 0
            && let Some(first) = chars.next()
        {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The author's function for `point`: `tool_pre_exec` in Python,
/// `toolPreExec` in JavaScript.
pub(crate) fn handler_name(language: Language, point: HookPoint) -> String {
    let iface = point.wit_interface();
    match language {
        Language::JavaScript => camel(&iface),
        _ => iface.replace('-', "_"),
    }
}

fn python_glue(exports: &Exports, module: &str, source: &str) -> String {
    let mut g = format!(
        "# Generated by `yoi plugin pack` from plugin.toml; do not edit.\n\
         import yoi as _yoi\n\
         import {module} as _plugin\n"
    );
    for point in &exports.hooks {
        // componentize-py names an export's module in snake case and its
        // class in Pascal case; the handler has the module's name.
        let snake = handler_name(Language::Python, *point);
        g.push_str(&format!(
            "from wit_world.exports import {snake} as _{snake}\n\
             {} = _yoi._hook(_plugin, {source:?}, {:?}, {snake:?}, _{snake})\n",
            type_name(&snake),
            point.as_str()
        ));
    }
    if exports.host_hooks {
        g.push_str(&format!(
            "from wit_world.exports import host_hooks as _host_hooks\n\
             HostHooks = _yoi._host_hooks(_plugin, {source:?}, \"host_hook\", _host_hooks)\n"
        ));
    }
    if !exports.tools.is_empty() {
        g.push_str(&format!(
            "Tools = _yoi._tools(_plugin, {source:?}, {:?})\n",
            exports.tools
        ));
    }
    g
}

fn js_glue(exports: &Exports, entry: &str, pdk: &str) -> String {
    let source = entry.rsplit('/').next().unwrap_or(entry);
    let mut g = format!(
        "// Generated by `yoi plugin pack` from plugin.toml; do not edit.\n\
         import * as plugin from './{entry}';\n\
         import {{ __hook, __hostHooks, __tools }} from './{pdk}';\n"
    );
    for point in &exports.hooks {
        let name = handler_name(Language::JavaScript, *point);
        g.push_str(&format!(
            "export const {name} = __hook(plugin, {source:?}, {:?}, {name:?});\n",
            point.as_str()
        ));
    }
    if exports.host_hooks {
        g.push_str(&format!(
            "export const hostHooks = __hostHooks(plugin, {source:?}, \"hostHook\");\n"
        ));
    }
    if !exports.tools.is_empty() {
        g.push_str(&format!(
            "export const tools = __tools(plugin, {source:?}, {:?});\n",
            exports.tools
        ));
    }
    g
}

/// The first line every PDK module Yoi writes starts with.
fn pdk_marker(language: Language) -> &'static str {
    match language {
        Language::Python => "\"\"\"Yoi's Python PDK",
        _ => "// Yoi's JavaScript PDK",
    }
}

/// The PDK module of `language` (Python or JavaScript), for the newest
/// contract.
pub(crate) fn pdk_text(language: Language) -> String {
    let template = match language {
        Language::Python => PYTHON_PDK,
        _ => JS_PDK,
    };
    template
        .replace("{{contract}}", CONTRACT)
        .replace("{{version}}", contract_version())
        .replace("{{event_types}}", &event_types().join("\n"))
}

/// The Python PDK's imports of the typed events: the WIT record of every
/// hook point (read off the contract's `hooks.wit`), and `DeliveryMode`,
/// which `response.pre_deliver`'s record carries; one per line, sorted.
fn event_types() -> Vec<String> {
    let hooks = CONTRACT_WIT
        .iter()
        .find(|(name, _)| *name == "hooks.wit")
        .map_or("", |(_, text)| *text);
    let mut names: Vec<String> = HookPoint::ALL
        .iter()
        .filter_map(|p| point_record(hooks, *p))
        .map(|record| format!("    {},", type_name(record)))
        .chain(["    DeliveryMode,".to_owned()])
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The WIT record a hook point's interface takes, e.g. `tool-call`.
fn point_record(hooks: &str, point: HookPoint) -> Option<&str> {
    hooks
        .split(&format!("interface {} {{", point.wit_interface()))
        .nth(1)?
        .split("use types.{")
        .nth(1)?
        .split('}')
        .next()
}

/// Writes the PDK module at `path` unless a file Yoi did not write is
/// there (it is never overwritten).
pub(crate) fn write_pdk(path: &Path, language: Language) -> Result<()> {
    let text = pdk_text(language);
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == text => return Ok(()),
        Ok(existing) if !existing.starts_with(pdk_marker(language)) => bail!(
            "{} exists and is not Yoi's PDK module, which `yoi plugin pack` writes there\n  fix: rename your file (and its imports), then pack again",
            path.display()
        ),
        _ => {}
    }
    std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))
}

/// Writes the contract's WIT and the plugin's world under `wit`.
fn write_wit(wit: &Path, world_text: &str) -> Result<()> {
    let deps = wit.join("deps").join("yoi-plugin");
    std::fs::create_dir_all(&deps).with_context(|| format!("creating {}", deps.display()))?;
    for (name, text) in CONTRACT_WIT {
        std::fs::write(deps.join(name), text)?;
    }
    std::fs::write(wit.join("world.wit"), world_text)?;
    Ok(())
}

/// The source files of a package folder that a build reads: every file
/// with one of `extensions`, outside hidden folders and dependencies.
fn sources(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if !name.starts_with('.') && name != "node_modules" && name != "__pycache__" {
                    stack.push(entry.path());
                }
            } else if kind.is_file() && extensions.iter().any(|e| name.ends_with(&format!(".{e}")))
            {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A key for everything a build reads: the toolchain, the generated files
/// and every source file (path and bytes).
fn build_key(
    dir: &Path,
    tool: &Toolchain,
    generated: &[&str],
    extensions: &[&str],
) -> Result<Digest> {
    let mut all = format!("{} {}\n", tool.package, tool.version).into_bytes();
    for g in generated {
        all.extend_from_slice(&(g.len() as u64).to_le_bytes());
        all.extend_from_slice(g.as_bytes());
    }
    for path in sources(dir, extensions)? {
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        all.extend_from_slice(&(rel.len() as u64).to_le_bytes());
        all.extend_from_slice(rel.as_bytes());
        all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        all.extend_from_slice(&bytes);
    }
    Ok(Digest::of(&all))
}

/// The result of building a Python or JavaScript plugin.
pub(crate) struct Built {
    /// The component's bytes.
    pub bytes: Vec<u8>,
    /// Whether it came from the build cache (nothing it reads had changed).
    pub cached: bool,
}

/// Builds the Python or JavaScript plugin in `dir` into a component: the
/// toolchain (installed when missing), the PDK module beside the entry,
/// the generated world and glue in `.yoi-build`, then the build, skipped
/// when nothing it reads changed since the last one.
pub(crate) fn build(dir: &Path, manifest: &Manifest, language: Language) -> Result<Built> {
    // The tools run inside the build folder: every path given them is absolute.
    let dir = &std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let exports = exports_of(manifest, language)?;
    let entry = manifest
        .build
        .entry_for(language)
        .context("the language has no entry module")?
        .to_owned();
    let entry_path = dir.join(&entry);
    if !entry_path.is_file() {
        bail!(
            "{} is missing: it holds the plugin's handlers\n  fix: create it (`yoi plugin new NAME --lang {}` shows one), or set `[build] entry` in plugin.toml",
            entry_path.display(),
            if language == Language::Python {
                "python"
            } else {
                "js"
            }
        );
    }
    let (entry_dir, file) = match entry.rsplit_once('/') {
        Some((d, f)) => (d.to_owned(), f.to_owned()),
        None => (String::new(), entry.clone()),
    };
    let beside = |name: &str| {
        if entry_dir.is_empty() {
            name.to_owned()
        } else {
            format!("{entry_dir}/{name}")
        }
    };
    let build_dir = dir.join(BUILD_DIR);
    std::fs::create_dir_all(&build_dir)
        .with_context(|| format!("creating {}", build_dir.display()))?;
    let world_text = world(&exports);
    match language {
        Language::Python => {
            let module = file.trim_end_matches(".py");
            if module == "yoi"
                || !module
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                bail!(
                    "the entry module `{file}` cannot be imported by Python under that name\n  fix: name it with letters, digits and `_` (not `yoi.py`), e.g. `app.py`"
                );
            }
            write_pdk(&dir.join(beside("yoi.py")), language)?;
            let glue = python_glue(&exports, module, &file);
            let tool = &COMPONENTIZE_PY;
            let key = build_key(dir, tool, &[&world_text, &glue], &["py"])?;
            if let Some(bytes) = cached(&build_dir, &key) {
                return Ok(Built {
                    bytes,
                    cached: true,
                });
            }
            let tool_dir = tool.ensure(install_componentize_py)?;
            write_wit(&build_dir.join("wit"), &world_text)?;
            std::fs::write(build_dir.join("yoi_entry.py"), glue)?;
            let out = build_dir.join("component.wasm");
            let mut cmd = Command::new(python());
            cmd.args([
                "-c",
                "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())",
                "-d",
                "wit",
                "-w",
                "plugin",
                "componentize",
                "-p",
            ])
            .arg(dir.join(if entry_dir.is_empty() { "." } else { &entry_dir }))
            .args(["-p", "."])
            .args(["yoi_entry", "-o", "component.wasm"])
            .env("PYTHONPATH", &tool_dir)
            .current_dir(&build_dir);
            finish(cmd, "componentize-py", &build_dir, &out, &key)
        }
        _ => {
            write_pdk(&dir.join(beside("yoi.js")), language)?;
            let glue = js_glue(&exports, &entry, &beside("yoi.js"));
            let tool = &COMPONENTIZE_JS;
            let key = build_key(dir, tool, &[&world_text, &glue], JS_EXTENSIONS)?;
            if let Some(bytes) = cached(&build_dir, &key) {
                return Ok(Built {
                    bytes,
                    cached: true,
                });
            }
            let tool_dir = tool.ensure(install_componentize_js)?;
            write_wit(&build_dir.join("wit"), &world_text)?;
            // The engine reads modules only below the entry's folder: the
            // sources are copied beside the generated entry.
            let src = build_dir.join("src");
            let _ = std::fs::remove_dir_all(&src);
            for file in sources(dir, JS_EXTENSIONS)? {
                let rel = file.strip_prefix(dir).unwrap_or(&file);
                let to = src.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(&file, &to).with_context(|| format!("copying {}", file.display()))?;
            }
            std::fs::write(src.join(JS_ENTRY), glue)?;
            let out = build_dir.join("component.wasm");
            let cli = tool_dir.join("node_modules/@bytecodealliance/componentize-js/src/cli.js");
            let mut cmd = Command::new("node");
            // No WASI stdio, HTTP or fetch event: output goes through `log`
            // and requests through `https`, both grant-checked.
            cmd.arg(cli)
                .arg(format!("src/{JS_ENTRY}"))
                .args([
                    "-w",
                    "wit",
                    "-n",
                    "plugin",
                    "-d",
                    "stdio",
                    "http",
                    "fetch-event",
                    "-o",
                    "component.wasm",
                ])
                .current_dir(&build_dir);
            finish(cmd, "componentize-js", &build_dir, &out, &key)
        }
    }
}

/// The component of the last build when it was built from `key`.
fn cached(build_dir: &Path, key: &Digest) -> Option<Vec<u8>> {
    let stamp = std::fs::read_to_string(build_dir.join("component.key")).ok()?;
    (stamp.trim() == key.to_string())
        .then(|| std::fs::read(build_dir.join("component.wasm")).ok())
        .flatten()
}

fn finish(
    mut cmd: Command,
    tool: &str,
    build_dir: &Path,
    out: &Path,
    key: &Digest,
) -> Result<Built> {
    let _ = std::fs::remove_file(build_dir.join("component.key"));
    let _ = std::fs::remove_file(out);
    // The tools are written in Rust: a backtrace would bury the message.
    cmd.env("RUST_BACKTRACE", "0");
    let output = run(cmd, tool)?;
    if !output.status.success() || !out.is_file() {
        let mut said = tail(&output.stderr);
        if said.is_empty() {
            said = tail(&output.stdout);
        }
        bail!(
            "{tool} could not build the plugin ({}):\n  {said}\n  fix: correct the error above, then pack again",
            output.status
        );
    }
    let bytes = std::fs::read(out).with_context(|| format!("reading {}", out.display()))?;
    std::fs::write(build_dir.join("component.key"), key.to_string())?;
    Ok(Built {
        bytes,
        cached: false,
    })
}

/// `acme.notes-2` → `AcmeNotes2`.
pub(crate) fn type_name(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_wit_is_the_whole_contract_folder() {
        assert_eq!(CONTRACT_WIT_VERSION, contract_version());
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("wit")
            .join(CONTRACT_WIT_VERSION);
        let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
            .expect("the contract folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = CONTRACT_WIT.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, embedded);
        assert!(CONTRACT_WIT[0].1.contains(&format!("package {CONTRACT};")));
    }

    #[test]
    fn names_follow_each_languages_conventions() {
        assert_eq!(camel("tool-pre-exec"), "toolPreExec");
        assert_eq!(type_name("tool-pre-exec"), "ToolPreExec");
        assert_eq!(camel("tools"), "tools");
    }

    /// Each PDK names every hook point's types, and the glue's names follow
    /// the WIT interfaces: the PDKs are checked against the contract here,
    /// and their builds in e2e prove they bind to it.
    #[test]
    fn the_pdks_know_every_hook_point_of_the_contract() {
        let hooks = CONTRACT_WIT
            .iter()
            .find(|(n, _)| *n == "hooks.wit")
            .expect("hooks.wit")
            .1;
        let python = pdk_text(Language::Python);
        for p in HookPoint::ALL {
            assert!(
                hooks.contains(&format!("interface {} {{", p.wit_interface())),
                "{p}"
            );
            let record = point_record(hooks, p).expect("the point's record");
            assert!(
                python.contains(&format!("    {},\n", type_name(record))),
                "yoi.py exports {record}"
            );
        }
        assert!(PYTHON_PDK.contains("{{event_types}}"));
        assert_eq!(
            host_apis(),
            ["log", "context", "config", "https", "fs", "secrets"]
        );
        for api in host_apis() {
            assert!(PYTHON_PDK.contains(&format!("from wit_world.imports import {api} as _{api}")));
            assert!(JS_PDK.contains(&format!("from 'yoi:plugin/{api}@{{{{version}}}}';")));
        }
        assert!(PYTHON_PDK.contains("CONTRACT = \"{{contract}}\""));
        assert!(JS_PDK.contains("export const CONTRACT = '{{contract}}';"));
        for language in [Language::Python, Language::JavaScript] {
            let text = pdk_text(language);
            assert!(
                text.contains(CONTRACT) && !text.contains("{{"),
                "{language}"
            );
        }
    }

    #[test]
    fn the_world_exports_what_plugin_toml_declares() {
        let exports = Exports {
            hooks: vec![HookPoint::ToolPreExec],
            host_hooks: true,
            tools: vec!["add_note".into()],
        };
        let w = world(&exports);
        let v = contract_version();
        assert!(w.contains(&format!("export yoi:plugin/tool-pre-exec@{v};")));
        assert!(w.contains(&format!("export yoi:plugin/tools@{v};")));
        assert!(w.contains(&format!("import yoi:plugin/https@{v};")));
        assert!(w.contains(&format!("export yoi:plugin/host-hooks@{v};")));
        let py = python_glue(&exports, "app", "app.py");
        assert!(py.contains("ToolPreExec = _yoi._hook(_plugin, \"app.py\", \"tool.pre_exec\""));
        assert!(py.contains("Tools = _yoi._tools(_plugin, \"app.py\", [\"add_note\"])"));
        let js = js_glue(&exports, "src/app.js", "src/yoi.js");
        assert!(js.contains("import * as plugin from './src/app.js';"));
        assert!(js.contains("export const toolPreExec = __hook(plugin, \"app.js\""));
        assert!(
            js.contains("export const hostHooks = __hostHooks(plugin, \"app.js\", \"hostHook\");")
        );
        assert!(py.contains(
            "HostHooks = _yoi._host_hooks(_plugin, \"app.py\", \"host_hook\", _host_hooks)"
        ));
    }

    #[test]
    fn a_file_yoi_did_not_write_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("yoi.py");
        std::fs::write(&path, "print('mine')\n").expect("write");
        let err = write_pdk(&path, Language::Python).expect_err("refused");
        assert!(err.to_string().contains("is not Yoi's PDK module"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "print('mine')\n"
        );
        std::fs::write(&path, "\"\"\"Yoi's Python PDK, an older one").expect("write");
        write_pdk(&path, Language::Python).expect("refreshed");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            pdk_text(Language::Python)
        );
    }
}
