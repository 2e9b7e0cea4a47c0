use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::contract::{Compat, ContractVersion};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::digest::Digest;
use crate::hook::{FailMode, Hook, HookPoint};

/// A validated plugin id: lowercase `[a-z0-9][a-z0-9._-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PluginId(String);

impl PluginId {
    /// Validates `s` as a plugin id.
    pub fn new(s: &str) -> Result<Self, String> {
        let bytes = s.as_bytes();
        let Some(first) = bytes.first() else {
            return Err("is empty".into());
        };
        if bytes.len() > 64 {
            return Err(format!(
                "is {} characters long; the limit is 64",
                bytes.len()
            ));
        }
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return Err("must start with a lowercase letter or a digit".into());
        }
        if let Some(bad) = s.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(format!(
                "contains `{}`; only lowercase letters, digits, `.`, `_` and `-` are allowed",
                bad.escape_default()
            ));
        }
        Ok(PluginId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `[plugin]` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginMeta {
    /// Stable id, e.g. `acme.redact`.
    pub id: PluginId,
    /// The version; a published (id, version) never changes.
    pub version: Version,
    /// Display name.
    pub name: Option<String>,
    /// One-paragraph description.
    pub description: Option<String>,
    /// Authors.
    pub authors: Vec<String>,
    /// SPDX license expression.
    pub license: Option<String>,
    /// The WIT contract the component targets.
    #[serde(serialize_with = "display")]
    pub contract: ContractVersion,
    /// Yoi host versions the plugin supports; `None` means any.
    #[serde(serialize_with = "display_opt")]
    pub engine: Option<VersionReq>,
}

/// The `[runtime]` table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Runtime {
    /// The artifact's path inside the package: relative, no `..`.
    pub artifact: PathBuf,
    /// The artifact's digest.
    pub digest: Digest,
}

/// A validated `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    /// `[plugin]`.
    pub plugin: PluginMeta,
    /// `[runtime]`.
    pub runtime: Runtime,
    /// `[[hooks]]`, in file order.
    pub hooks: Vec<Hook>,
}

fn display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn display_opt<T: fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// The only runtime kind Yoi runs.
const RUNTIME_KIND: &str = "wasm-component";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    plugin: RawPlugin,
    runtime: RawRuntime,
    #[serde(default)]
    hooks: Vec<RawHook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    id: String,
    version: String,
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    license: Option<String>,
    contract: String,
    engine: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    kind: String,
    artifact: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    point: String,
    #[serde(default)]
    priority: i32,
    fail: Option<String>,
    timeout_ms: Option<i64>,
}

impl Manifest {
    /// Parses and validates a manifest, returning every problem found.
    pub fn parse(text: &str) -> Result<Manifest, Diagnostics> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            let path = match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!("plugin.toml:{line}:{col}")
                }
                None => "plugin.toml".to_owned(),
            };
            Diagnostics(vec![Diagnostic::new(
                Code::TomlSyntax,
                path,
                message,
                "see docs/manifest.md for the fields and their types",
            )])
        })?;
        validate(raw)
    }

    /// Checks the manifest against what a host supports: the contract version
    /// and the `engine` range. Empty when compatible.
    pub fn compatibility(&self, host: &Compat) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if !self.plugin.contract.runs_on(&host.contract) {
            out.push(Diagnostic::new(
                Code::ContractIncompatible,
                "plugin.contract",
                format!(
                    "the plugin targets {} but this host implements {}",
                    self.plugin.contract, host.contract
                ),
                format!(
                    "rebuild the plugin against {} (update yoi-pdk), or run it on a host that implements {}",
                    host.contract, self.plugin.contract
                ),
            ));
        }
        if let Some(req) = &self.plugin.engine
            && !req.matches(&host.engine)
        {
            out.push(Diagnostic::new(
                Code::EngineIncompatible,
                "plugin.engine",
                format!(
                    "the plugin supports Yoi `{req}` but this host is Yoi {}",
                    host.engine
                ),
                format!(
                    "widen `plugin.engine` to include {} if the plugin works there, or use a matching host",
                    host.engine
                ),
            ));
        }
        out
    }

    /// The hook entry for `point`, if declared.
    pub fn hook(&self, point: HookPoint) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.point == point)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

fn validate(raw: RawManifest) -> Result<Manifest, Diagnostics> {
    let mut errs = Vec::new();

    let id = keep(&mut errs, PluginId::new(&raw.plugin.id).map_err(|why| {
        Diagnostic::new(
            Code::IdFormat,
            "plugin.id",
            format!("`{}` {why}", raw.plugin.id.escape_default()),
            "use lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit, e.g. `acme.redact`",
        )
    }));
    let version = keep(
        &mut errs,
        Version::parse(&raw.plugin.version).map_err(|e| {
            Diagnostic::new(
                Code::VersionFormat,
                "plugin.version",
                format!(
                    "`{}` is not a semver version: {e}",
                    raw.plugin.version.escape_default()
                ),
                "write a version like `1.2.0`",
            )
        }),
    );
    let contract = keep(&mut errs, raw.plugin.contract.parse::<ContractVersion>().map_err(|why| {
        Diagnostic::new(
            Code::ContractFormat,
            "plugin.contract",
            format!("`{}` {why}", raw.plugin.contract.escape_default()),
            "write `contract = \"yoi:plugin@0.1.0\"` (the version your yoi-pdk builds against)",
        )
    }));
    let engine = match &raw.plugin.engine {
        None => Some(None),
        Some(text) => keep(
            &mut errs,
            VersionReq::parse(text).map(Some).map_err(|e| {
                Diagnostic::new(
                    Code::EngineRange,
                    "plugin.engine",
                    format!("`{}` is not a semver range: {e}", text.escape_default()),
                    "write a range like `>=0.1, <0.2`, or remove the field to accept any host",
                )
            }),
        ),
    };

    if raw.runtime.kind != RUNTIME_KIND {
        let hint = match raw.runtime.kind.as_str() {
            "wasm" | "wasm-module" | "core-wasm" | "wasi" | "wasip1" | "extism" => {
                "core WebAssembly modules are not run by Yoi: build a component with yoi-pdk \
                 (`cargo build --target wasm32-wasip2`) and set `kind = \"wasm-component\"`"
            }
            _ => "set `kind = \"wasm-component\"`; it is the only runtime Yoi supports",
        };
        errs.push(Diagnostic::new(
            Code::RuntimeKind,
            "runtime.kind",
            format!(
                "runtime kind `{}` is not supported; Yoi runs WebAssembly components only",
                raw.runtime.kind.escape_default()
            ),
            hint,
        ));
    }
    let artifact = keep(&mut errs, artifact_path(&raw.runtime.artifact));
    let digest = keep(&mut errs, raw.runtime.digest.parse::<Digest>().map_err(|why| {
        Diagnostic::new(
            Code::DigestFormat,
            "runtime.digest",
            format!("`{}` {why}", raw.runtime.digest.escape_default()),
            "write `sha256:` and the 64 lowercase hex digits of the artifact's SHA-256 (`sha256sum FILE`), or let `cargo xtask build-examples` fill it",
        )
    }));

    let mut hooks = Vec::new();
    let mut seen = BTreeSet::new();
    if raw.hooks.is_empty() {
        errs.push(Diagnostic::new(
            Code::NoHooks,
            "hooks",
            "the manifest declares no hooks, so the plugin would never run",
            "add a `[[hooks]]` table with `point = \"tool.pre_exec\"` (or another point)",
        ));
    }
    for (i, h) in raw.hooks.iter().enumerate() {
        if let Some(hook) = validate_hook(i, h, &mut errs) {
            if !seen.insert(hook.point) {
                errs.push(Diagnostic::new(
                    Code::HookDuplicate,
                    format!("hooks[{i}].point"),
                    format!("hook point `{}` is declared more than once", hook.point),
                    "declare each hook point once; one handler per point per plugin",
                ));
            }
            hooks.push(hook);
        }
    }

    match (id, version, contract, engine, artifact, digest) {
        (Some(id), Some(version), Some(contract), Some(engine), Some(artifact), Some(digest))
            if errs.is_empty() =>
        {
            Ok(Manifest {
                plugin: PluginMeta {
                    id,
                    version,
                    name: raw.plugin.name,
                    description: raw.plugin.description,
                    authors: raw.plugin.authors,
                    license: raw.plugin.license,
                    contract,
                    engine,
                },
                runtime: Runtime { artifact, digest },
                hooks,
            })
        }
        _ => Err(Diagnostics(errs)),
    }
}

/// Records the error of `r`, if any, and returns its value.
fn keep<T>(errs: &mut Vec<Diagnostic>, r: Result<T, Diagnostic>) -> Option<T> {
    r.map_err(|d| errs.push(d)).ok()
}

fn validate_hook(i: usize, h: &RawHook, errs: &mut Vec<Diagnostic>) -> Option<Hook> {
    let point = h
        .point
        .parse::<HookPoint>()
        .map_err(|_| {
            let known: Vec<_> = HookPoint::ALL.iter().map(|p| p.as_str()).collect();
            errs.push(Diagnostic::new(
                Code::HookPoint,
                format!("hooks[{i}].point"),
                format!("`{}` is not a hook point", h.point.escape_default()),
                format!("use one of: {}", known.join(", ")),
            ));
        })
        .ok();
    let fail = match h.fail.as_deref() {
        None | Some("open") => Some(FailMode::Open),
        Some("closed") => Some(FailMode::Closed),
        Some(other) => {
            errs.push(Diagnostic::new(
                Code::HookFailMode,
                format!("hooks[{i}].fail"),
                format!("`{}` is not a fail mode", other.escape_default()),
                "write `fail = \"open\"` (failures let the event through) or `fail = \"closed\"` (failures block it)",
            ));
            None
        }
    };
    let timeout_ms = match h.timeout_ms {
        None => Some(Hook::DEFAULT_TIMEOUT_MS),
        Some(ms) if (1..=i64::from(Hook::MAX_TIMEOUT_MS)).contains(&ms) => u32::try_from(ms).ok(),
        Some(ms) => {
            errs.push(Diagnostic::new(
                Code::HookTimeout,
                format!("hooks[{i}].timeout_ms"),
                format!("{ms} ms is out of bounds"),
                format!(
                    "use 1 to {} ms (default {})",
                    Hook::MAX_TIMEOUT_MS,
                    Hook::DEFAULT_TIMEOUT_MS
                ),
            ));
            None
        }
    };
    Some(Hook {
        point: point?,
        priority: h.priority,
        fail: fail?,
        timeout_ms: timeout_ms?,
    })
}

fn artifact_path(text: &str) -> Result<PathBuf, Diagnostic> {
    let bad = |why: &str| {
        Diagnostic::new(
            Code::ArtifactPath,
            "runtime.artifact",
            format!("`{}` {why}", text.escape_default()),
            "name a file inside the package folder with a relative path, e.g. `artifact = \"plugin.wasm\"`",
        )
    };
    if text.is_empty() {
        return Err(bad("is empty"));
    }
    if text.contains('\\') || text.contains('\0') {
        return Err(bad("contains a backslash or NUL; use `/` between folders"));
    }
    let path = Path::new(text);
    let mut depth = 0usize;
    for part in path.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(bad("contains `..`, which could leave the package"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad(
                    "is absolute; it must be relative to the package folder",
                ));
            }
        }
    }
    if depth == 0 {
        return Err(bad("does not name a file"));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[plugin]
id = "acme.guard"
version = "1.2.0"
contract = "yoi:plugin@0.1.0"
engine = ">=0.1, <0.2"

[runtime]
kind = "wasm-component"
artifact = "guard.wasm"
digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

[[hooks]]
point = "tool.pre_exec"
priority = 10
fail = "closed"
timeout_ms = 200
"#;

    fn codes(text: &str) -> Vec<Code> {
        Manifest::parse(text)
            .unwrap_err()
            .0
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn parses_a_valid_manifest() {
        let m = Manifest::parse(VALID).unwrap();
        assert_eq!(m.plugin.version, Version::new(1, 2, 0));
        assert_eq!(m.hooks[0].point, HookPoint::ToolPreExec);
        assert_eq!(m.hooks[0].fail, FailMode::Closed);
        assert_eq!(m.hooks[0].timeout_ms, 200);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let text = VALID
            .replace("acme.guard", "Acme Guard")
            .replace("\"1.2.0\"", "\"1.2\"")
            .replace("sha256:ba78", "sha256:BA78")
            .replace("wasm-component", "wasm")
            .replace("\"closed\"", "\"shut\"")
            .replace("timeout_ms = 200", "timeout_ms = 0");
        assert_eq!(
            codes(&text),
            vec![
                Code::IdFormat,
                Code::VersionFormat,
                Code::RuntimeKind,
                Code::DigestFormat,
                Code::HookFailMode,
                Code::HookTimeout,
            ]
        );
    }

    #[test]
    fn legacy_runtime_kind_says_what_to_do() {
        let err = Manifest::parse(&VALID.replace("wasm-component", "wasm-module")).unwrap_err();
        let d = &err.0[0];
        assert_eq!(d.code, Code::RuntimeKind);
        assert!(d.fix.contains("wasm32-wasip2"), "{}", d.fix);
    }

    #[test]
    fn artifact_paths_that_leave_the_package_are_refused() {
        for bad in [
            "../x.wasm",
            "/etc/passwd",
            "a/../../x.wasm",
            "",
            ".",
            "a\\b.wasm",
        ] {
            let text = VALID.replace("\"guard.wasm\"", &format!("{bad:?}"));
            assert_eq!(codes(&text), vec![Code::ArtifactPath], "{bad}");
        }
        let ok = VALID.replace("\"guard.wasm\"", "\"./build/guard.wasm\"");
        assert!(Manifest::parse(&ok).is_ok());
    }

    #[test]
    fn unknown_fields_and_points_are_errors() {
        let err = Manifest::parse(&VALID.replace("priority = 10", "prio = 10")).unwrap_err();
        assert_eq!(err.0[0].code, Code::TomlSyntax);
        assert!(err.0[0].message.contains("prio"), "{}", err.0[0].message);
        assert!(
            err.0[0].path.starts_with("plugin.toml:"),
            "{}",
            err.0[0].path
        );
        assert_eq!(
            codes(&VALID.replace("tool.pre_exec", "tool.before")),
            vec![Code::HookPoint]
        );
        let twice = format!("{VALID}\n[[hooks]]\npoint = \"tool.pre_exec\"\n");
        assert_eq!(codes(&twice), vec![Code::HookDuplicate]);
    }

    #[test]
    fn compatibility_names_both_versions() {
        let m = Manifest::parse(&VALID.replace("@0.1.0", "@0.2.0")).unwrap();
        let host = Compat {
            contract: "yoi:plugin@0.1.0".parse().unwrap(),
            engine: Version::new(0, 1, 0),
        };
        let ds = m.compatibility(&host);
        assert_eq!(ds.len(), 1);
        assert!(
            ds[0].message.contains("yoi:plugin@0.2.0")
                && ds[0].message.contains("yoi:plugin@0.1.0")
        );
        let newer = Compat {
            engine: Version::new(0, 3, 0),
            ..host
        };
        let m = Manifest::parse(VALID).unwrap();
        assert_eq!(m.compatibility(&newer)[0].code, Code::EngineIncompatible);
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC*") {
            let _ = Manifest::parse(&text);
        }

        #[test]
        fn parsing_mutated_manifests_never_panics(cut in 0usize..400, junk in "[\\[\\]=\"a-z0-9._ \n-]{0,20}") {
            let cut = cut.min(VALID.len());
            let text = format!("{}{}{}", &VALID[..cut], junk, &VALID[cut..]);
            let _ = Manifest::parse(&text);
        }

        #[test]
        fn plugin_ids_follow_the_pattern(id in "[a-z0-9][a-z0-9._-]{0,63}") {
            proptest::prop_assert!(PluginId::new(&id).is_ok());
        }
    }
}
