use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use semver::{Version, VersionReq};
use serde::Serialize;
use toml::de::{DeTable, DeValue};

use crate::build::{Build, Language, check_entry};
use crate::capability::{
    Capabilities, FsAccess, FsMode, HttpsPattern, RoutePattern, WebSocketPattern, relative_path,
    valid_secret_key,
};
use crate::compat::Compat;
use crate::config::{Setting, SettingType, valid_setting_name};
use crate::contract::ContractVersion;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, Span};
use crate::digest::Digest;
use crate::hook::{FailMode, Hook, HookPoint};
use crate::observer::{ObservationKind, Observer};
use crate::provider::{ModelPattern, Provider};
use crate::service::{Backpressure, Endpoint, Restart, Service, Signature, Timestamp};
use crate::tool::{InputSchema, Tool, check_input_schema, valid_tool_name};
use crate::walk::{Cx, Table, to_json};

mod build;
mod capabilities;
mod header;
mod hooks;
mod settings;
mod surfaces;
mod tools;

use build::{read_build, read_limits};
use capabilities::read_capabilities;
use header::{read_plugin, read_runtime};
use hooks::{hooks_in_contract, read_hooks};
use settings::read_config;
use surfaces::{read_observer, read_providers, read_services};
use tools::read_tools;

/// The manifest's file name inside a package folder.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// The field names of each table of `plugin.toml`. The parser refuses any
/// other field; `plugin.schema.json` lists the same ones (a test checks).
#[allow(missing_docs)]
pub mod fields {
    pub const TOP: &[&str] = &[
        "plugin",
        "runtime",
        "hooks",
        "tools",
        "capabilities",
        "limits",
        "config",
        "providers",
        "observer",
        "services",
        "build",
    ];
    pub const PLUGIN: &[&str] = &[
        "id",
        "version",
        "name",
        "description",
        "authors",
        "license",
        "contract",
        "engine",
    ];
    pub const RUNTIME: &[&str] = &["kind", "artifact", "digest"];
    pub const HOOK: &[&str] = &["point", "priority", "fail", "timeout_ms"];
    pub const TOOL: &[&str] = &["name", "description", "input_schema"];
    pub const CAPABILITIES: &[&str] = &["https", "fs", "secrets", "websocket", "routes", "log"];
    pub const FS: &[&str] = &["path", "mode"];
    pub const LIMITS: &[&str] = &["memory_mb"];
    pub const PROVIDER: &[&str] = &["name", "models", "timeout_ms"];
    pub const OBSERVER: &[&str] = &["kinds", "queue", "batch", "timeout_ms"];
    pub const SERVICE: &[&str] = &[
        "name",
        "websocket",
        "http",
        "queue",
        "timeout_ms",
        "backpressure",
        "restart",
        "backoff_ms",
        "max_backoff_ms",
        "max_restarts",
        "signature",
    ];
    pub const SIGNATURE: &[&str] = &[
        "secret",
        "header",
        "prefix",
        "timestamp_header",
        "max_age_s",
    ];
    pub const BUILD: &[&str] = &["language", "entry"];
    pub const SETTING: &[&str] = &[
        "type",
        "description",
        "default",
        "secret",
        "required",
        "schema",
    ];
}

const DOCS: &str = "docs/manifest.md";
/// The only runtime kind Yoi runs.
pub(crate) const RUNTIME_KIND: &str = "wasm-component";
/// Bounds of `hooks[].priority`.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -1_000_000..=1_000_000;
/// Bounds of `limits.memory_mb`.
pub const MEMORY_MB_RANGE: std::ops::RangeInclusive<i64> = 1..=4096;

/// A validated plugin id: lowercase `[a-z0-9][a-z0-9._-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PluginId(String);

/// A plugin id read from JSON is checked like one read from plugin.toml.
impl<'de> serde::Deserialize<'de> for PluginId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PluginId::new(&text).map_err(serde::de::Error::custom)
    }
}

impl PluginId {
    /// Validates `s` as a plugin id.
    pub fn new(s: &str) -> Result<Self, String> {
        let Some(first) = s.bytes().next() else {
            return Err("is empty".into());
        };
        if s.len() > 64 {
            return Err(format!("is {} bytes long; the limit is 64", s.len()));
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginMeta {
    /// Stable id, e.g. `acme.redact`.
    pub id: PluginId,
    /// The version; a published (id, version) never changes.
    pub version: Version,
    /// Display name.
    pub name: Option<String>,
    /// What the plugin does.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runtime {
    /// The artifact's path inside the package: relative, `/`-separated, no `..`.
    pub artifact: PathBuf,
    /// The artifact's digest.
    pub digest: Digest,
}

/// The `[limits]` table: what the plugin asks for. The host clamps every
/// value to its own maxima.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory cap per instance, in MiB.
    pub memory_mb: Option<u32>,
}

/// Where each field was written, by path (`runtime.digest`, `hooks[0].point`).
/// Not part of a manifest's value: two manifests that say the same thing are
/// equal however they are laid out.
#[derive(Debug, Clone, Default)]
pub struct Locations(BTreeMap<String, Span>);

impl PartialEq for Locations {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Locations {
    /// Where `path` was written, if it was.
    pub fn get(&self, path: &str) -> Option<&Span> {
        self.0.get(path)
    }
}

/// A validated `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// `[plugin]`.
    pub plugin: PluginMeta,
    /// `[runtime]`.
    pub runtime: Runtime,
    /// `[[hooks]]`, in file order.
    pub hooks: Vec<Hook>,
    /// `[[tools]]`, in file order.
    pub tools: Vec<Tool>,
    /// `[capabilities]`.
    pub capabilities: Capabilities,
    /// `[limits]`.
    pub limits: Limits,
    /// `[config]`: the settings an operator may set, in file order.
    pub config: Vec<Setting>,
    /// `[[providers]]`: the model providers it serves, in file order.
    pub providers: Vec<Provider>,
    /// `[observer]`: the host observations it receives, if any.
    pub observer: Option<Observer>,
    /// `[[services]]`: its services, in file order.
    pub services: Vec<Service>,
    /// `[build]`: how `yoi plugin pack` builds it; hosts ignore it.
    pub build: Build,
    /// Field locations, for diagnostics found after parsing.
    #[serde(skip)]
    pub locations: Locations,
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

impl Manifest {
    /// Parses and validates a manifest, returning every problem found.
    pub fn parse(text: &str) -> Result<Manifest, Diagnostics> {
        let mut cx = Cx::new(text);
        let (doc, syntax) = DeTable::parse_recoverable(text);
        let fail = |cx: Cx<'_>| {
            Err(Diagnostics::new(
                cx.diags,
                "plugin.toml",
                Some(text.to_owned()),
            ))
        };
        if !syntax.is_empty() {
            // A broken tree would only add confusing follow-on problems.
            for e in syntax {
                cx.error(
                    Code::TomlSyntax,
                    "plugin.toml",
                    e.span(),
                    e.message().trim_end().to_owned(),
                    "fix the TOML syntax at the marked spot",
                );
            }
            return fail(cx);
        }
        let root = Table::root(&doc);
        root.deny_unknown(&mut cx, fields::TOP, DOCS);
        let mut locations = BTreeMap::new();

        let plugin = root
            .table(&mut cx, "plugin", Some("id, version and contract"))
            .and_then(|t| read_plugin(&mut cx, &t, &mut locations));
        let runtime = root
            .table(&mut cx, "runtime", Some("kind, artifact and digest"))
            .and_then(|t| read_runtime(&mut cx, &t, &mut locations));
        let hooks = read_hooks(&mut cx, &root, &mut locations);
        if let (Some(plugin), Some(hooks)) = (&plugin, &hooks) {
            hooks_in_contract(&mut cx, &plugin.contract, hooks, &locations);
        }
        let tools = read_tools(&mut cx, &root, &mut locations);
        let providers = read_providers(&mut cx, &root, &mut locations);
        let observer = match root.table(&mut cx, "observer", None) {
            Some(t) => read_observer(&mut cx, &t, &mut locations).map(Some),
            None => Some(None),
        };
        if ["hooks", "tools", "providers", "observer", "services"]
            .iter()
            .all(|k| root.raw(k).is_none())
        {
            cx.error(
                Code::NoEntryPoints,
                "hooks",
                None,
                "the manifest declares no hooks, tools, providers, observer or services, so the plugin would never run",
                "add a `[[hooks]]` table with `point = \"tool.pre_exec\"` (or another point), a `[[tools]]` table, a `[[providers]]` table, an `[observer]` table or a `[[services]]` table",
            );
        }
        let capabilities = match root.table(&mut cx, "capabilities", None) {
            Some(t) => read_capabilities(&mut cx, &t),
            None => Some(Capabilities::none()),
        };
        let limits = match root.table(&mut cx, "limits", None) {
            Some(t) => read_limits(&mut cx, &t),
            None => Some(Limits::default()),
        };
        let config = match root.table(&mut cx, "config", None) {
            Some(t) => read_config(&mut cx, &t, &mut locations),
            None => Some(Vec::new()),
        };
        let services = read_services(&mut cx, &root, capabilities.as_ref(), &mut locations);
        let build = match root.table(&mut cx, "build", None) {
            Some(t) => read_build(&mut cx, &t),
            None => Some(Build {
                language: None,
                entry: None,
            }),
        };

        match (
            (plugin, runtime, hooks, tools),
            (
                capabilities,
                limits,
                config,
                providers,
                observer,
                services,
                build,
            ),
        ) {
            (
                (Some(plugin), Some(runtime), Some(hooks), Some(tools)),
                (
                    Some(capabilities),
                    Some(limits),
                    Some(config),
                    Some(providers),
                    Some(observer),
                    Some(services),
                    Some(build),
                ),
            ) if cx.diags.is_empty() => {
                let locations = Locations(
                    locations
                        .into_iter()
                        .map(|(k, r)| (k, Span::locate(text, r)))
                        .collect(),
                );
                Ok(Manifest {
                    plugin,
                    runtime,
                    hooks,
                    tools,
                    capabilities,
                    limits,
                    config,
                    providers,
                    observer,
                    services,
                    build,
                    locations,
                })
            }
            _ => fail(cx),
        }
    }

    /// Checks the manifest against what a host supports: the contract
    /// version, the `engine` range, the hook points it runs and whether it
    /// runs tools. Empty when compatible.
    pub fn compatibility(&self, host: &Compat) -> Vec<Diagnostic> {
        let at = |path: &str| self.locations.get(path).cloned();
        let mut out = Vec::new();
        if !host.runs(&self.plugin.contract) {
            let newest = host.newest().map_or_else(
                || "a contract this host implements".into(),
                ToString::to_string,
            );
            out.push(
                Diagnostic::new(
                    Code::ContractIncompatible,
                    "plugin.contract",
                    format!(
                        "the plugin targets {} but this host implements {}",
                        self.plugin.contract,
                        host.contracts_text()
                    ),
                    format!(
                        "rebuild the plugin against {newest} (update yoi-pdk), or run it on a host that implements {}",
                        self.plugin.contract
                    ),
                )
                .at(at("plugin.contract")),
            );
        }
        if let Some(req) = &self.plugin.engine
            && !req.matches(&host.engine)
        {
            out.push(
                Diagnostic::new(
                    Code::EngineIncompatible,
                    "plugin.engine",
                    format!("the plugin supports Yoi `{req}` but this host is Yoi {}", host.engine),
                    format!(
                        "widen `plugin.engine` to include {} if the plugin works there, or use a matching host",
                        host.engine
                    ),
                )
                .at(at("plugin.engine")),
            );
        }
        for (i, hook) in self.hooks.iter().enumerate() {
            // A host-defined point runs where some contract of the host has
            // the `host-hooks` export; which points a host declares is the
            // registry's to warn about, not a package's to fail over.
            let runs = match hook.point {
                HookPoint::Host(_) => host
                    .contracts
                    .iter()
                    .any(|c| crate::ExportSurface::HostHooks.in_contract(c)),
                point => host.hook_points.contains(&point),
            };
            if !runs {
                let path = format!("hooks[{i}].point");
                let runs: Vec<_> = host.hook_points.iter().map(|p| p.as_str()).collect();
                out.push(
                    Diagnostic::new(
                        Code::HookUnsupported,
                        &path,
                        format!(
                            "hook point `{}` is not part of {}, which this host implements",
                            hook.point,
                            host.contracts_text()
                        ),
                        format!(
                            "remove this hook; the contract defines: {}",
                            runs.join(", ")
                        ),
                    )
                    .at(at(&path)),
                );
            }
        }
        if !self.tools.is_empty() && host.tools_interface.is_none() {
            out.push(
                Diagnostic::new(
                    Code::ToolNotExported,
                    "tools",
                    format!(
                        "{} has no tool interface, so tools cannot run",
                        host.contracts_text()
                    ),
                    "remove the [[tools]] tables, or target a contract version that defines tools",
                )
                .at(at("tools[0].name")),
            );
        }
        out
    }

    /// The declared provider `name`, if any.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The declared setting `name`, if any.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.config.iter().find(|s| s.name == name)
    }

    /// The hook entry for `point`, if declared.
    pub fn hook(&self, point: HookPoint) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.point == point)
    }

    /// Writes the manifest back as `plugin.toml` text. Parsing the result
    /// gives an equal manifest.
    pub fn to_toml(&self) -> String {
        use toml::{Table as T, Value as V};
        let s = |v: &str| V::String(v.to_owned());
        let mut plugin = T::new();
        plugin.insert("id".into(), s(self.plugin.id.as_str()));
        plugin.insert("version".into(), s(&self.plugin.version.to_string()));
        for (key, value) in [
            ("name", &self.plugin.name),
            ("description", &self.plugin.description),
            ("license", &self.plugin.license),
        ] {
            if let Some(v) = value {
                plugin.insert(key.into(), s(v));
            }
        }
        if !self.plugin.authors.is_empty() {
            plugin.insert(
                "authors".into(),
                V::Array(self.plugin.authors.iter().map(|a| s(a)).collect()),
            );
        }
        plugin.insert("contract".into(), s(&self.plugin.contract.to_string()));
        if let Some(engine) = &self.plugin.engine {
            plugin.insert("engine".into(), s(&engine.to_string()));
        }
        let mut runtime = T::new();
        runtime.insert("kind".into(), s(RUNTIME_KIND));
        runtime.insert(
            "artifact".into(),
            s(&self.runtime.artifact.to_string_lossy()),
        );
        runtime.insert("digest".into(), s(&self.runtime.digest.to_string()));
        let mut doc = T::new();
        doc.insert("plugin".into(), V::Table(plugin));
        doc.insert("runtime".into(), V::Table(runtime));
        if !self.hooks.is_empty() {
            let hooks = self.hooks.iter().map(|h| {
                let mut t = T::new();
                t.insert("point".into(), s(h.point.as_str()));
                t.insert("priority".into(), V::Integer(i64::from(h.priority)));
                t.insert("fail".into(), s(&h.fail.to_string()));
                if h.timeout_written {
                    t.insert("timeout_ms".into(), V::Integer(i64::from(h.timeout_ms)));
                }
                V::Table(t)
            });
            doc.insert("hooks".into(), V::Array(hooks.collect()));
        }
        if !self.tools.is_empty() {
            let tools = self.tools.iter().map(|tool| {
                let mut t = T::new();
                t.insert("name".into(), s(&tool.name));
                t.insert("description".into(), s(&tool.description));
                let schema = match &tool.input_schema {
                    InputSchema::File(path) => s(path),
                    InputSchema::Inline(json) => json_to_toml(json),
                };
                t.insert("input_schema".into(), schema);
                V::Table(t)
            });
            doc.insert("tools".into(), V::Array(tools.collect()));
        }
        let caps = &self.capabilities;
        let mut c = T::new();
        c.insert(
            "https".into(),
            V::Array(caps.https.iter().map(|p| s(&p.to_string())).collect()),
        );
        let fs = caps.fs.iter().map(|f| {
            let mut t = T::new();
            t.insert("path".into(), s(&f.path));
            t.insert(
                "mode".into(),
                s(if f.mode == FsMode::Ro { "ro" } else { "rw" }),
            );
            V::Table(t)
        });
        c.insert("fs".into(), V::Array(fs.collect()));
        c.insert(
            "secrets".into(),
            V::Array(caps.secrets.iter().map(|k| s(k)).collect()),
        );
        if !caps.websocket.is_empty() {
            c.insert(
                "websocket".into(),
                V::Array(caps.websocket.iter().map(|p| s(&p.to_string())).collect()),
            );
        }
        if !caps.routes.is_empty() {
            c.insert(
                "routes".into(),
                V::Array(caps.routes.iter().map(|r| s(r.as_str())).collect()),
            );
        }
        c.insert("log".into(), V::Boolean(caps.log));
        doc.insert("capabilities".into(), V::Table(c));
        if let Some(mb) = self.limits.memory_mb {
            let mut l = T::new();
            l.insert("memory_mb".into(), V::Integer(i64::from(mb)));
            doc.insert("limits".into(), V::Table(l));
        }
        if !self.config.is_empty() {
            let mut config = T::new();
            for setting in &self.config {
                let mut t = T::new();
                t.insert("type".into(), s(setting.kind.as_str()));
                if let Some(d) = &setting.description {
                    t.insert("description".into(), s(d));
                }
                if let Some(d) = &setting.default {
                    t.insert("default".into(), json_to_toml(d));
                }
                if setting.secret {
                    t.insert("secret".into(), V::Boolean(true));
                }
                if setting.required {
                    t.insert("required".into(), V::Boolean(true));
                }
                if let Some(schema) = &setting.schema {
                    t.insert("schema".into(), json_to_toml(schema));
                }
                config.insert(setting.name.clone(), V::Table(t));
            }
            doc.insert("config".into(), V::Table(config));
        }
        if !self.providers.is_empty() {
            let providers = self.providers.iter().map(|p| {
                let mut t = T::new();
                t.insert("name".into(), s(&p.name));
                t.insert(
                    "models".into(),
                    V::Array(p.models.iter().map(|m| s(&m.to_string())).collect()),
                );
                t.insert("timeout_ms".into(), V::Integer(i64::from(p.timeout_ms)));
                V::Table(t)
            });
            doc.insert("providers".into(), V::Array(providers.collect()));
        }
        if let Some(o) = &self.observer {
            let mut t = T::new();
            t.insert(
                "kinds".into(),
                V::Array(o.kinds.iter().map(|k| s(k.as_str())).collect()),
            );
            t.insert("queue".into(), V::Integer(i64::from(o.queue)));
            t.insert("batch".into(), V::Integer(i64::from(o.batch)));
            t.insert("timeout_ms".into(), V::Integer(i64::from(o.timeout_ms)));
            doc.insert("observer".into(), V::Table(t));
        }
        if !self.services.is_empty() {
            let int = |n: u32| V::Integer(i64::from(n));
            let services = self.services.iter().map(|sv| {
                let mut t = T::new();
                t.insert("name".into(), s(&sv.name));
                if let Some(e) = &sv.websocket {
                    t.insert("websocket".into(), s(&e.to_string()));
                }
                if let Some(r) = &sv.http {
                    t.insert("http".into(), s(r.as_str()));
                }
                t.insert("queue".into(), int(sv.queue));
                t.insert("timeout_ms".into(), int(sv.timeout_ms));
                t.insert("backpressure".into(), s(sv.backpressure.as_str()));
                t.insert("restart".into(), s(sv.restart.as_str()));
                t.insert("backoff_ms".into(), int(sv.backoff_ms));
                t.insert("max_backoff_ms".into(), int(sv.max_backoff_ms));
                t.insert("max_restarts".into(), int(sv.max_restarts));
                if let Some(sig) = &sv.signature {
                    let mut g = T::new();
                    g.insert("secret".into(), s(&sig.secret));
                    g.insert("header".into(), s(&sig.header));
                    g.insert("prefix".into(), s(&sig.prefix));
                    if let Some(ts) = &sig.timestamp {
                        g.insert("timestamp_header".into(), s(&ts.header));
                        g.insert("max_age_s".into(), int(ts.max_age_s));
                    }
                    t.insert("signature".into(), V::Table(g));
                }
                V::Table(t)
            });
            doc.insert("services".into(), V::Array(services.collect()));
        }
        if self.build.language.is_some() || self.build.entry.is_some() {
            let mut b = T::new();
            if let Some(l) = self.build.language {
                b.insert("language".into(), s(l.as_str()));
            }
            if let Some(e) = &self.build.entry {
                b.insert("entry".into(), s(e));
            }
            doc.insert("build".into(), V::Table(b));
        }
        toml::to_string(&doc)
            .unwrap_or_else(|e| unreachable!("a toml::Table always serializes: {e}"))
    }
}

/// JSON → TOML for inline schemas. `null` has no TOML form; schemas written
/// in TOML never contain it, so it cannot occur in a parsed manifest.
fn json_to_toml(v: &serde_json::Value) -> toml::Value {
    use serde_json::Value as J;
    match v {
        J::Null => toml::Value::String(String::new()),
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => n
            .as_i64()
            .map(toml::Value::Integer)
            .unwrap_or_else(|| toml::Value::Float(n.as_f64().unwrap_or_default())),
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(a) => toml::Value::Array(a.iter().map(json_to_toml).collect()),
        J::Object(o) => toml::Value::Table(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_toml(v)))
                .collect(),
        ),
    }
}

type Locs = BTreeMap<String, std::ops::Range<usize>>;

/// A bounded integer field with a default; reports `code` when out of
/// bounds.
fn bounded(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    key: &str,
    (default, range): (u32, std::ops::RangeInclusive<u32>),
    code: Code,
    unit: &str,
) -> Option<u32> {
    match t.integer(cx, key) {
        None => Some(default),
        Some(f) => match u32::try_from(f.value) {
            Ok(v) if range.contains(&v) => Some(v),
            _ => {
                cx.error(
                    code,
                    &t.field_path(key),
                    Some(f.span),
                    format!("{key} {} is out of bounds", f.value),
                    format!(
                        "use {} to {}{unit} (default {default})",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        },
    }
}

/// Checks an optional metadata text: not blank, at most `max` characters.
fn text_field(
    cx: &mut Cx<'_>,
    path: &str,
    value: &str,
    span: std::ops::Range<usize>,
    max: usize,
) -> bool {
    let n = value.chars().count();
    let problem = if value.trim().is_empty() {
        Some("is empty".to_owned())
    } else if n > max {
        Some(format!("is {n} characters long; the limit is {max}"))
    } else {
        None
    };
    match problem {
        Some(why) => {
            cx.error(
                Code::TextField,
                path,
                Some(span),
                format!("`{path}` {why}"),
                format!("write a non-empty text of at most {max} characters, or remove the field"),
            );
            false
        }
        None => true,
    }
}
