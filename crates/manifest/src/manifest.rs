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

fn read_plugin(cx: &mut Cx<'_>, t: &Table<'_, '_>, locs: &mut Locs) -> Option<PluginMeta> {
    t.deny_unknown(cx, fields::PLUGIN, DOCS);
    let id = t
        .required_string(cx, "id", "the plugin's stable id", "id = \"acme.redact\"")
        .and_then(|f| {
            locs.insert("plugin.id".into(), f.span.clone());
            PluginId::new(f.value)
                .map_err(|why| {
                    cx.error(
                        Code::IdFormat,
                        "plugin.id",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "use lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit, e.g. `acme.redact`",
                    )
                })
                .ok()
        });
    let version = t
        .required_string(
            cx,
            "version",
            "the plugin's semver version",
            "version = \"0.1.0\"",
        )
        .and_then(|f| {
            Version::parse(f.value)
                .map_err(|e| {
                    cx.error(
                        Code::VersionFormat,
                        "plugin.version",
                        Some(f.span),
                        format!(
                            "`{}` is not a semver version: {e}",
                            f.value.escape_default()
                        ),
                        "write a version like `1.2.0`",
                    )
                })
                .ok()
        });
    let contract = t
        .required_string(cx, "contract", "the WIT contract it targets", "contract = \"yoi:plugin@<version>\"")
        .and_then(|f| {
            locs.insert("plugin.contract".into(), f.span.clone());
            f.value
                .parse::<ContractVersion>()
                .map_err(|why| {
                    cx.error(
                        Code::ContractFormat,
                        "plugin.contract",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "write `contract = \"yoi:plugin@<version>\"` with the version your yoi-pdk builds against (`yoi_pdk::CONTRACT`; `yoi plugin new` writes it)",
                    )
                })
                .ok()
        });
    let mut ok = true;
    let engine = match t.string(cx, "engine") {
        None => None,
        Some(f) => {
            locs.insert("plugin.engine".into(), f.span.clone());
            match VersionReq::parse(f.value) {
                Ok(req) => Some(req),
                Err(e) => {
                    ok = false;
                    cx.error(
                        Code::EngineRange,
                        "plugin.engine",
                        Some(f.span),
                        format!("`{}` is not a semver range: {e}", f.value.escape_default()),
                        "write a range like `>=0.1, <0.2`, or remove the field to accept any host",
                    );
                    None
                }
            }
        }
    };
    let mut text = |key: &str, max: usize, cx: &mut Cx<'_>| {
        t.string(cx, key).and_then(|f| {
            let path = format!("plugin.{key}");
            if text_field(cx, &path, f.value, f.span, max) {
                Some(f.value.to_owned())
            } else {
                ok = false;
                None
            }
        })
    };
    let name = text("name", 100, cx);
    let description = text("description", 2000, cx);
    let license = text("license", 200, cx);
    let mut authors = Vec::new();
    for (i, f) in t.strings(cx, "authors").into_iter().enumerate() {
        if text_field(cx, &format!("plugin.authors[{i}]"), f.value, f.span, 200) {
            authors.push(f.value.to_owned());
        } else {
            ok = false;
        }
    }
    Some(PluginMeta {
        id: id?,
        version: version?,
        name,
        description,
        authors,
        license,
        contract: contract?,
        engine,
    })
    .filter(|_| ok)
}

fn read_runtime(cx: &mut Cx<'_>, t: &Table<'_, '_>, locs: &mut Locs) -> Option<Runtime> {
    t.deny_unknown(cx, fields::RUNTIME, DOCS);
    let kind_ok = t
        .required_string(cx, "kind", "the runtime kind", "kind = \"wasm-component\"")
        .map(|f| {
            if f.value == RUNTIME_KIND {
                return true;
            }
            let fix = match f.value {
                "wasm" | "wasm-module" | "core-wasm" | "wasi" | "wasip1" | "wasm32-wasi"
                | "extism" => {
                    "core WebAssembly modules are not run by Yoi: build a component with yoi-pdk \
                     (`cargo build --target wasm32-wasip2`) and set `kind = \"wasm-component\"`"
                }
                _ => "set `kind = \"wasm-component\"`; it is the only runtime Yoi supports",
            };
            cx.error(
                Code::RuntimeKind,
                "runtime.kind",
                Some(f.span),
                format!(
                    "runtime kind `{}` is not supported; Yoi runs WebAssembly components only",
                    f.value.escape_default()
                ),
                fix,
            );
            false
        })
        .unwrap_or(false);
    let artifact = t
        .required_string(cx, "artifact", "the component's path in the package", "artifact = \"plugin.wasm\"")
        .and_then(|f| {
            locs.insert("runtime.artifact".into(), f.span.clone());
            match relative_path(f.value) {
                Ok(p) if p != "." => Some(PathBuf::from(p)),
                Ok(_) => {
                    cx.error(
                        Code::ArtifactPath,
                        "runtime.artifact",
                        Some(f.span),
                        format!("`{}` does not name a file", f.value.escape_default()),
                        "name the component file, e.g. `artifact = \"plugin.wasm\"`",
                    );
                    None
                }
                Err(why) => {
                    cx.error(
                        Code::ArtifactPath,
                        "runtime.artifact",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "name a file inside the package folder with a relative path, e.g. `artifact = \"plugin.wasm\"`",
                    );
                    None
                }
            }
        });
    let digest = t
        .required_string(cx, "digest", "the artifact's sha256 digest", "digest = \"sha256:<64 hex digits>\"")
        .and_then(|f| {
            locs.insert("runtime.digest".into(), f.span.clone());
            f.value
                .parse::<Digest>()
                .map_err(|why| {
                    cx.error(
                        Code::DigestFormat,
                        "runtime.digest",
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "write `sha256:` and the 64 lowercase hex digits of the artifact's SHA-256 (`sha256sum FILE`)",
                    )
                })
                .ok()
        });
    Some(Runtime {
        artifact: artifact?,
        digest: digest?,
    })
    .filter(|_| kind_ok)
}

/// Refuses a hook point the manifest's own contract does not have yet: a
/// component built against that contract cannot export it.
fn hooks_in_contract(cx: &mut Cx<'_>, contract: &ContractVersion, hooks: &[Hook], locs: &Locs) {
    for (i, hook) in hooks.iter().enumerate() {
        if hook.point.in_contract(contract) {
            continue;
        }
        let path = format!("hooks[{i}].point");
        let since = hook.point.since();
        cx.error(
            Code::HookContract,
            &path,
            locs.get(&path).cloned(),
            format!(
                "hook point `{}` came in {since}, but the plugin targets {contract}",
                hook.point
            ),
            format!(
                "build against {since} or newer and set `contract = \"{since}\"`, or remove this hook"
            ),
        );
    }
}

fn read_hooks(cx: &mut Cx<'_>, root: &Table<'_, '_>, locs: &mut Locs) -> Option<Vec<Hook>> {
    let mut hooks = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "hooks") {
        t.deny_unknown(cx, fields::HOOK, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let point = t
            .required_string(cx, "point", "the hook point", "point = \"tool.pre_exec\"")
            .and_then(|f| {
                locs.insert(path("point"), f.span.clone());
                match f.value.parse::<HookPoint>() {
                    Ok(p) if !seen.insert(p) => {
                        cx.error(
                            Code::HookDuplicate,
                            &path("point"),
                            Some(f.span),
                            format!("hook point `{p}` is declared more than once"),
                            "declare each hook point once; one handler per point per plugin",
                        );
                        None
                    }
                    Ok(p) => Some(p),
                    Err(_) => {
                        let known: Vec<_> = HookPoint::ALL.iter().map(|p| p.as_str()).collect();
                        // Outside Yoi's namespaces it was meant as a host's
                        // point: say what is wrong with it as one.
                        let why = match crate::HostPoint::new(f.value) {
                            Err(crate::HostPointError::Reserved(_)) | Ok(_) => String::new(),
                            Err(why) if f.value.contains('.') => format!(": {why}"),
                            Err(_) => String::new(),
                        };
                        let fix = match crate::walk::did_you_mean(f.value, &known) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => format!(
                                "use one of Yoi's points ({}), or a point the host declares, written `namespace.name` in lowercase outside Yoi's namespaces (e.g. `build.pre_compile`)",
                                known.join(", ")
                            ),
                        };
                        cx.error(
                            Code::HookPoint,
                            &path("point"),
                            Some(f.span),
                            format!("`{}` is not a hook point{why}", f.value.escape_default()),
                            fix,
                        );
                        None
                    }
                }
            });
        let priority = match t.integer(cx, "priority") {
            None => Some(0),
            Some(f) if PRIORITY_RANGE.contains(&f.value) => i32::try_from(f.value).ok(),
            Some(f) => {
                cx.error(
                    Code::HookPriority,
                    &path("priority"),
                    Some(f.span),
                    format!("priority {} is out of bounds", f.value),
                    format!(
                        "use {} to {} (higher runs first; default 0)",
                        PRIORITY_RANGE.start(),
                        PRIORITY_RANGE.end()
                    ),
                );
                None
            }
        };
        let fail = match t.string(cx, "fail") {
            None => Some(FailMode::Open),
            Some(f) => match f.value {
                "open" => Some(FailMode::Open),
                "closed" => Some(FailMode::Closed),
                other => {
                    cx.error(
                        Code::HookFailMode,
                        &path("fail"),
                        Some(f.span),
                        format!("`{}` is not a fail mode", other.escape_default()),
                        "write `fail = \"open\"` (failures let the event through) or `fail = \"closed\"` (failures block it)",
                    );
                    None
                }
            },
        };
        let timeout = t.integer(cx, "timeout_ms");
        let timeout_written = timeout.is_some();
        let timeout_ms = match timeout {
            None => Some(Hook::DEFAULT_TIMEOUT_MS),
            Some(f) if (1..=i64::from(Hook::MAX_TIMEOUT_MS)).contains(&f.value) => {
                u32::try_from(f.value).ok()
            }
            Some(f) => {
                cx.error(
                    Code::HookTimeout,
                    &path("timeout_ms"),
                    Some(f.span),
                    format!("{} ms is out of bounds", f.value),
                    format!(
                        "use 1 to {} ms (default {})",
                        Hook::MAX_TIMEOUT_MS,
                        Hook::DEFAULT_TIMEOUT_MS
                    ),
                );
                None
            }
        };
        match (point, priority, fail, timeout_ms) {
            (Some(point), Some(priority), Some(fail), Some(timeout_ms)) => hooks.push(Hook {
                point,
                priority,
                fail,
                timeout_ms,
                timeout_written,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(hooks)
}

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

/// How a kind of `[[...]]` entry's `name` is spoken of, and its codes.
struct Naming {
    what: &'static str,
    example: &'static str,
    invalid: Code,
    duplicate: Code,
}

const PROVIDER_NAMES: Naming = Naming {
    what: "provider",
    example: "openai",
    invalid: Code::ProviderName,
    duplicate: Code::ProviderDuplicate,
};

const SERVICE_NAMES: Naming = Naming {
    what: "service",
    example: "bridge",
    invalid: Code::ServiceName,
    duplicate: Code::ServiceDuplicate,
};

/// An entry's `name`: required, `[a-z][a-z0-9_-]{0,63}`, and unique among
/// the entries `seen` so far.
fn unique_name<'a>(
    cx: &mut Cx<'_>,
    t: &Table<'a, '_>,
    n: &Naming,
    seen: &mut BTreeSet<&'a str>,
    locs: &mut Locs,
) -> Option<String> {
    let path = t.field_path("name");
    let f = t.required_string(
        cx,
        "name",
        &format!("the {}'s name", n.what),
        &format!("name = \"{}\"", n.example),
    )?;
    locs.insert(path.clone(), f.span.clone());
    if !valid_tool_name(f.value) {
        cx.error(
            n.invalid,
            &path,
            Some(f.span),
            format!("`{}` is not a valid {} name", f.value.escape_default(), n.what),
            format!(
                "use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter, e.g. `{}`",
                n.example
            ),
        );
        None
    } else if !seen.insert(f.value) {
        cx.error(
            n.duplicate,
            &path,
            Some(f.span),
            format!("{} `{}` is declared more than once", n.what, f.value),
            format!("give each {} a unique name", n.what),
        );
        None
    } else {
        Some(f.value.to_owned())
    }
}

fn read_providers(cx: &mut Cx<'_>, root: &Table<'_, '_>, locs: &mut Locs) -> Option<Vec<Provider>> {
    let mut providers = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "providers") {
        t.deny_unknown(cx, fields::PROVIDER, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let name = unique_name(cx, &t, &PROVIDER_NAMES, &mut seen, locs);
        let mut models = Vec::new();
        let mut models_ok = true;
        if t.raw("models").is_none() {
            cx.error(
                Code::MissingField,
                &path("models"),
                Some(t.span.clone()),
                format!("`[{}]` is missing `models`", t.path),
                "add `models = [\"gpt-4o-mini\", \"local-*\"]`: exact names, or prefixes ending in `*`",
            );
            models_ok = false;
        }
        for (i, f) in t.strings(cx, "models").into_iter().enumerate() {
            match ModelPattern::parse(f.value) {
                Ok(m) if models.contains(&m) => {
                    cx.error(
                        Code::ModelPattern,
                        &format!("{}[{i}]", path("models")),
                        Some(f.span),
                        format!("model `{m}` is listed twice"),
                        "list each model name or prefix once",
                    );
                    models_ok = false;
                }
                Ok(m) => models.push(m),
                Err(why) => {
                    cx.error(
                        Code::ModelPattern,
                        &format!("{}[{i}]", path("models")),
                        Some(f.span),
                        format!("model `{}` {why}", f.value.escape_default()),
                        "write a model name (`gpt-4o-mini`) or a prefix ending in `*` (`local-*`)",
                    );
                    models_ok = false;
                }
            }
        }
        if models_ok && models.is_empty() && t.raw("models").is_some() {
            cx.error(
                Code::ModelPattern,
                &path("models"),
                t.raw("models").map(|v| v.span()),
                "the provider serves no model",
                "list the model names it answers for, e.g. `models = [\"gpt-4o-mini\"]`",
            );
            models_ok = false;
        }
        let timeout_ms = bounded(
            cx,
            &t,
            "timeout_ms",
            (Provider::DEFAULT_TIMEOUT_MS, 1..=Provider::MAX_TIMEOUT_MS),
            Code::ProviderTimeout,
            " ms",
        );
        match (name, models_ok, timeout_ms) {
            (Some(name), true, Some(timeout_ms)) => providers.push(Provider {
                name,
                models,
                timeout_ms,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(providers)
}

fn read_observer(cx: &mut Cx<'_>, t: &Table<'_, '_>, locs: &mut Locs) -> Option<Observer> {
    t.deny_unknown(cx, fields::OBSERVER, DOCS);
    let mut kinds = Vec::new();
    let mut ok = true;
    if let Some(v) = t.raw("kinds") {
        locs.insert(t.field_path("kinds"), v.span());
    } else {
        let all: Vec<_> = ObservationKind::ALL.iter().map(|k| k.as_str()).collect();
        cx.error(
            Code::MissingField,
            &t.field_path("kinds"),
            Some(t.span.clone()),
            "`[observer]` is missing `kinds`, the observations it receives",
            format!(
                "add `kinds = [\"model_call\"]`; the kinds are: {}",
                all.join(", ")
            ),
        );
        ok = false;
    }
    for (i, f) in t.strings(cx, "kinds").into_iter().enumerate() {
        let at = format!("{}[{i}]", t.field_path("kinds"));
        match f.value.parse::<ObservationKind>() {
            Ok(k) if kinds.contains(&k) => {
                cx.error(
                    Code::ObservationKind,
                    &at,
                    Some(f.span),
                    format!("kind `{k}` is listed twice"),
                    "list each kind once",
                );
                ok = false;
            }
            Ok(k) => kinds.push(k),
            Err(why) => {
                let all: Vec<_> = ObservationKind::ALL.iter().map(|k| k.as_str()).collect();
                let fix = match crate::walk::did_you_mean(f.value, &all) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("use one of: {}", all.join(", ")),
                };
                cx.error(Code::ObservationKind, &at, Some(f.span), why, fix);
                ok = false;
            }
        }
    }
    if ok && kinds.is_empty() {
        cx.error(
            Code::ObservationKind,
            &t.field_path("kinds"),
            t.raw("kinds").map(|v| v.span()),
            "the observer asks for no kind of observation",
            "list what it receives, e.g. `kinds = [\"model_call\"]`",
        );
        ok = false;
    }
    let queue = bounded(cx, t, "queue", Observer::QUEUE, Code::ObserverLimit, "");
    let batch = bounded(cx, t, "batch", Observer::BATCH, Code::ObserverLimit, "");
    let timeout_ms = bounded(
        cx,
        t,
        "timeout_ms",
        Observer::TIMEOUT_MS,
        Code::ObserverLimit,
        " ms",
    );
    match (ok, queue, batch, timeout_ms) {
        (true, Some(queue), Some(batch), Some(timeout_ms)) => Some(Observer {
            kinds,
            queue,
            batch,
            timeout_ms,
        }),
        _ => None,
    }
}

/// A policy field written as one of its names.
fn policy<P: std::str::FromStr<Err = String> + Default>(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    key: &str,
) -> Option<P> {
    match t.string(cx, key) {
        None => Some(P::default()),
        Some(f) => match f.value.parse() {
            Ok(p) => Some(p),
            Err(why) => {
                cx.error(
                    Code::ServicePolicy,
                    &t.field_path(key),
                    Some(f.span),
                    format!("{key} {why}"),
                    format!("write one of those names as `{key}`"),
                );
                None
            }
        },
    }
}

fn read_services(
    cx: &mut Cx<'_>,
    root: &Table<'_, '_>,
    capabilities: Option<&Capabilities>,
    locs: &mut Locs,
) -> Option<Vec<Service>> {
    let mut services = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "services") {
        t.deny_unknown(cx, fields::SERVICE, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let name = unique_name(cx, &t, &SERVICE_NAMES, &mut seen, locs);
        // An ingress the plugin does not request under [capabilities] could
        // never be granted: say so now, not at the first connection.
        let not_requested = |cx: &mut Cx<'_>, key: &str, span, what: String, fix: String| {
            cx.error(Code::ServiceNotRequested, &path(key), Some(span), what, fix);
        };
        let mut ingress_ok = true;
        let websocket = match t.string(cx, "websocket") {
            None => None,
            Some(f) => match f.value.parse::<Endpoint>() {
                Ok(e) => {
                    if let Some(caps) = capabilities
                        && !caps.websocket.iter().any(|p| e.within(p))
                    {
                        not_requested(
                            cx,
                            "websocket",
                            f.span,
                            format!("the endpoint `{e}` is not requested under [capabilities]"),
                            format!(
                                "add `websocket = [\"{}\"]` to [capabilities]",
                                e.capability()
                            ),
                        );
                        ingress_ok = false;
                    }
                    Some(e)
                }
                Err(why) => {
                    cx.error(
                        Code::ServiceEndpoint,
                        &path("websocket"),
                        Some(f.span),
                        format!("the endpoint `{}` {why}", f.value.escape_default()),
                        "write a URL like `wss://gateway.example.com/socket` (or `ws://127.0.0.1:9000/` written out)",
                    );
                    ingress_ok = false;
                    None
                }
            },
        };
        let http = match t.string(cx, "http") {
            None => None,
            Some(f) => match f.value.parse::<RoutePattern>() {
                Ok(r) => {
                    if let Some(caps) = capabilities
                        && !caps.routes.iter().any(|p| p.matches(r.as_str()))
                    {
                        not_requested(
                            cx,
                            "http",
                            f.span,
                            format!("the route `{r}` is not requested under [capabilities]"),
                            format!("add `routes = [\"{r}\"]` to [capabilities]"),
                        );
                        ingress_ok = false;
                    }
                    Some(r)
                }
                Err(why) => {
                    cx.error(
                        Code::ServiceRoute,
                        &path("http"),
                        Some(f.span),
                        format!("the route `{}` {why}", f.value.escape_default()),
                        "write a path like `/hooks/acme`",
                    );
                    ingress_ok = false;
                    None
                }
            },
        };
        let signature = match t.table(cx, "signature", None) {
            None => Some(None),
            Some(g) => {
                g.deny_unknown(cx, fields::SIGNATURE, DOCS);
                let secret = g
                    .required_string(
                        cx,
                        "secret",
                        "the secrets key of the shared secret",
                        "secret = \"WEBHOOK_SECRET\"",
                    )
                    .and_then(|f| {
                        let key = f.value;
                        if let Some(caps) = capabilities
                            && !caps.secrets.iter().any(|k| k == key)
                        {
                            not_requested(
                                cx,
                                "signature.secret",
                                f.span,
                                format!(
                                    "the secret `{}` is not requested under [capabilities]",
                                    key.escape_default()
                                ),
                                format!(
                                    "add `secrets = [\"{}\"]` to [capabilities]",
                                    key.escape_default()
                                ),
                            );
                            return None;
                        }
                        Some(key.to_owned())
                    });
                let header_named = |cx: &mut Cx<'_>, key: &str| match g.string(cx, key) {
                    None => Ok(None),
                    Some(f)
                        if !f.value.is_empty()
                            && f.value.len() <= 64
                            && f.value
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                    {
                        Ok(Some(f.value.to_ascii_lowercase()))
                    }
                    Some(f) => {
                        cx.error(
                            Code::ServiceSignature,
                            &format!("{}.{key}", g.path),
                            Some(f.span),
                            format!("`{}` is not a header name", f.value.escape_default()),
                            "use letters, digits and `-`, e.g. `x-hub-signature-256`",
                        );
                        Err(())
                    }
                };
                let header = header_named(cx, "header")
                    .ok()
                    .map(|h| h.unwrap_or_else(|| Signature::DEFAULT_HEADER.to_owned()));
                let max_age_s = bounded(
                    cx,
                    &g,
                    "max_age_s",
                    (Timestamp::DEFAULT_MAX_AGE_S, Timestamp::MAX_AGE_S),
                    Code::ServiceSignature,
                    " s",
                );
                let timestamp = match header_named(cx, "timestamp_header") {
                    Ok(Some(header)) => {
                        max_age_s.map(|max_age_s| Some(Timestamp { header, max_age_s }))
                    }
                    Ok(None) if g.raw("max_age_s").is_some() => {
                        cx.error(
                            Code::ServiceSignature,
                            &format!("{}.max_age_s", g.path),
                            None,
                            "`max_age_s` bounds a signed timestamp, but there is no `timestamp_header`",
                            "add `timestamp_header = \"x-signature-timestamp\"`, or remove `max_age_s`",
                        );
                        None
                    }
                    Ok(None) => Some(None),
                    Err(()) => None,
                };
                let prefix = match g.string(cx, "prefix") {
                    None => Some(Signature::DEFAULT_PREFIX.to_owned()),
                    Some(f)
                        if f.value.len() <= 32 && f.value.bytes().all(|b| b.is_ascii_graphic()) =>
                    {
                        Some(f.value.to_owned())
                    }
                    Some(f) => {
                        cx.error(
                            Code::ServiceSignature,
                            &format!("{}.prefix", g.path),
                            Some(f.span),
                            "the prefix must be at most 32 printable ASCII characters without spaces",
                            "write it as it appears before the hex digest, e.g. `sha256=`",
                        );
                        None
                    }
                };
                if t.raw("http").is_none() {
                    cx.error(
                        Code::ServiceSignature,
                        &g.path,
                        Some(g.span.clone()),
                        "a signature is checked on inbound requests, but the service has no `http` route",
                        "add `http = \"/hooks/NAME\"` to the service, or remove `signature`",
                    );
                    ingress_ok = false;
                }
                match (secret, header, prefix, timestamp) {
                    (Some(secret), Some(header), Some(prefix), Some(timestamp)) => {
                        Some(Some(Signature {
                            secret,
                            header,
                            prefix,
                            timestamp,
                        }))
                    }
                    _ => None,
                }
            }
        };
        let limit = |cx: &mut Cx<'_>, key, bounds, unit| {
            bounded(cx, &t, key, bounds, Code::ServiceLimit, unit)
        };
        let queue = limit(cx, "queue", Service::QUEUE, "");
        let timeout_ms = limit(cx, "timeout_ms", Service::TIMEOUT_MS, " ms");
        let backoff_ms = limit(cx, "backoff_ms", Service::BACKOFF_MS, " ms");
        let max_backoff_ms = limit(cx, "max_backoff_ms", Service::MAX_BACKOFF_MS, " ms");
        let max_restarts = limit(cx, "max_restarts", Service::MAX_RESTARTS, "");
        let backpressure = policy::<Backpressure>(cx, &t, "backpressure");
        let restart = policy::<Restart>(cx, &t, "restart");
        match (
            name,
            ingress_ok,
            signature,
            (queue, timeout_ms, backoff_ms, max_backoff_ms, max_restarts),
            backpressure,
            restart,
        ) {
            (
                Some(name),
                true,
                Some(signature),
                (
                    Some(queue),
                    Some(timeout_ms),
                    Some(backoff_ms),
                    Some(max_backoff_ms),
                    Some(max_restarts),
                ),
                Some(backpressure),
                Some(restart),
            ) => services.push(Service {
                name,
                websocket,
                http,
                queue,
                timeout_ms,
                backpressure,
                restart,
                backoff_ms,
                max_backoff_ms: max_backoff_ms.max(backoff_ms),
                max_restarts,
                signature,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(services)
}

fn read_tools(cx: &mut Cx<'_>, root: &Table<'_, '_>, locs: &mut Locs) -> Option<Vec<Tool>> {
    let mut tools = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for t in root.tables(cx, "tools") {
        t.deny_unknown(cx, fields::TOOL, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        let name = t
            .required_string(cx, "name", "the tool's name", "name = \"get_weather\"")
            .and_then(|f| {
                locs.insert(path("name"), f.span.clone());
                if !valid_tool_name(f.value) {
                    cx.error(
                        Code::ToolName,
                        &path("name"),
                        Some(f.span),
                        format!("`{}` is not a valid tool name", f.value.escape_default()),
                        "use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter, e.g. `get_weather`",
                    );
                    None
                } else if !seen.insert(f.value) {
                    cx.error(
                        Code::ToolDuplicate,
                        &path("name"),
                        Some(f.span),
                        format!("tool `{}` is declared more than once", f.value),
                        "give each tool a unique name",
                    );
                    None
                } else {
                    Some(f.value.to_owned())
                }
            });
        let description = t
            .required_string(
                cx,
                "description",
                "what the tool does, for the model",
                "description = \"Current weather for a city\"",
            )
            .and_then(|f| {
                if f.value.trim().is_empty() || f.value.chars().count() > 4096 {
                    cx.error(
                        Code::ToolDescription,
                        &path("description"),
                        Some(f.span),
                        "the description is empty or longer than 4096 characters",
                        "say in one or two sentences what the tool does and when to use it",
                    );
                    None
                } else {
                    Some(f.value.to_owned())
                }
            });
        let schema = match t.raw("input_schema") {
            None => {
                cx.error(
                    Code::MissingField,
                    &path("input_schema"),
                    Some(t.span.clone()),
                    format!("`[{}]` is missing `input_schema` (a JSON Schema)", t.path),
                    "add `input_schema = { type = \"object\", properties = { ... } }` or a path to a JSON file in the package",
                );
                None
            }
            Some(v) => match v.get_ref() {
                DeValue::String(file) => match relative_path(file) {
                    Ok(p) if p != "." => Some(InputSchema::File(p)),
                    other => {
                        let why = other.err().unwrap_or_else(|| "does not name a file".into());
                        cx.error(
                            Code::ToolSchemaFile,
                            &path("input_schema"),
                            Some(v.span()),
                            format!("schema file `{}` {why}", file.escape_default()),
                            "name a JSON file inside the package with a relative path, e.g. `schemas/input.json`",
                        );
                        None
                    }
                },
                DeValue::Table(_) => match to_json(v.get_ref())
                    .and_then(|json| check_input_schema(&json).map(|()| json))
                {
                    Ok(json) => Some(InputSchema::Inline(json)),
                    Err(why) => {
                        cx.error(
                            Code::ToolSchema,
                            &path("input_schema"),
                            Some(v.span()),
                            format!("the input schema {why}"),
                            "write a JSON Schema whose root is `type = \"object\"` (https://json-schema.org)",
                        );
                        None
                    }
                },
                _ => {
                    cx.error(
                        Code::WrongType,
                        &path("input_schema"),
                        Some(v.span()),
                        "expected a table (an inline JSON Schema) or a string (a schema file)",
                        "write `input_schema = { type = \"object\" }` or `input_schema = \"schemas/input.json\"`",
                    );
                    None
                }
            },
        };
        match (name, description, schema) {
            (Some(name), Some(description), Some(input_schema)) => tools.push(Tool {
                name,
                description,
                input_schema,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(tools)
}

fn read_config(cx: &mut Cx<'_>, config: &Table<'_, '_>, locs: &mut Locs) -> Option<Vec<Setting>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (name, name_span, t) in config.named_tables(cx) {
        t.deny_unknown(cx, fields::SETTING, DOCS);
        let path = |key: &str| format!("{}.{key}", t.path);
        locs.insert(t.path.clone(), name_span.clone());
        if !valid_setting_name(name) {
            ok = false;
            cx.error(
                Code::ConfigName,
                &t.path,
                Some(name_span),
                format!("`{}` is not a valid setting name", name.escape_default()),
                "use 1 to 64 lowercase letters, digits or `_`, starting with a letter, e.g. `deny_list`",
            );
        }
        let names: Vec<&str> = SettingType::ALL.iter().map(|k| k.as_str()).collect();
        let kind = t
            .required_string(cx, "type", "the kind of value", "type = \"string\"")
            .and_then(|f| match f.value.parse::<SettingType>() {
                Ok(kind) => Some(kind),
                Err(()) => {
                    let fix = match crate::walk::did_you_mean(f.value, &names) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("write one of: {}", names.join(", ")),
                    };
                    cx.error(
                        Code::ConfigType,
                        &path("type"),
                        Some(f.span),
                        format!("`{}` is not a setting type", f.value.escape_default()),
                        fix,
                    );
                    None
                }
            });
        let description = t.string(cx, "description").and_then(|f| {
            text_field(cx, &path("description"), f.value, f.span, 1000).then(|| f.value.to_owned())
        });
        let secret = t.boolean(cx, "secret").is_some_and(|f| f.value);
        let required = t.boolean(cx, "required").is_some_and(|f| f.value);
        let schema = t.raw("schema").and_then(|v| {
            let checked = match v.get_ref() {
                DeValue::Table(_) => to_json(v.get_ref()),
                _ => Err("must be a table of JSON Schema keywords".to_owned()),
            }
            .and_then(|json| check_setting_schema(kind, &json).map(|()| json));
            checked
                .map_err(|why| {
                    cx.error(
                        Code::ConfigSchema,
                        &path("schema"),
                        Some(v.span()),
                        format!("the schema {why}"),
                        "write JSON Schema keywords that refine the type, e.g. `schema = { items = { type = \"string\" } }`",
                    )
                })
                .ok()
        });
        let Some(kind) = kind else {
            ok = false;
            continue;
        };
        let mut setting = Setting {
            name: name.to_owned(),
            kind,
            description,
            default: None,
            secret,
            required,
            schema,
        };
        if let Some(v) = t.raw("default") {
            let not_allowed = if secret {
                Some("a secret setting cannot have a default: plugin.toml is not secret")
            } else if required {
                Some("a required setting cannot have a default: it would never be missing")
            } else {
                None
            };
            if let Some(why) = not_allowed {
                ok = false;
                cx.error(
                    Code::ConfigDefaultNotAllowed,
                    &path("default"),
                    Some(v.span()),
                    why,
                    "remove `default` (operators set the value with `yoi config set`)",
                );
            } else {
                match to_json(v.get_ref()).and_then(|json| setting.check(&json).map(|()| json)) {
                    Ok(json) => setting.default = Some(json),
                    Err(why) => {
                        ok = false;
                        cx.error(
                            Code::ConfigDefault,
                            &path("default"),
                            Some(v.span()),
                            format!("the default does not fit the setting: {why}"),
                            format!("write a default of type {kind} that the setting's schema accepts, or remove it"),
                        );
                    }
                }
            }
        }
        out.push(setting);
    }
    ok.then_some(out)
}

/// A setting's extra schema: a JSON Schema object whose `type`, if given,
/// is the setting's own.
fn check_setting_schema(
    kind: Option<SettingType>,
    schema: &serde_json::Value,
) -> Result<(), String> {
    let serde_json::Value::Object(map) = schema else {
        return Err("must be a table of JSON Schema keywords".into());
    };
    if let (Some(kind), Some(given)) = (kind, map.get("type"))
        && given.as_str() != Some(kind.json_type())
    {
        return Err(format!(
            "says `type = {given}` but the setting is a {kind} (JSON type `{}`); leave `type` out of the schema",
            kind.json_type()
        ));
    }
    jsonschema::meta::validate(schema).map_err(|e| format!("is not a valid JSON Schema: {e}"))
}

fn read_capabilities(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Capabilities> {
    t.deny_unknown(cx, fields::CAPABILITIES, DOCS);
    let mut ok = true;
    let dup = |cx: &mut Cx<'_>, path: &str, span, what: String| {
        cx.error(
            Code::CapabilityDuplicate,
            path,
            Some(span),
            format!("{what} is requested more than once"),
            "request each capability once",
        );
    };
    let mut https = Vec::new();
    for (i, f) in t.strings(cx, "https").into_iter().enumerate() {
        let path = format!("capabilities.https[{i}]");
        match f.value.parse::<HttpsPattern>() {
            Ok(p) if https.contains(&p) => {
                ok = false;
                dup(cx, &path, f.span, format!("`{p}`"));
            }
            Ok(p) => https.push(p),
            Err(why) => {
                ok = false;
                cx.error(
                    Code::HttpsPattern,
                    &path,
                    Some(f.span),
                    format!("`{}` {why}", f.value.escape_default()),
                    "write a host like `api.example.com`, `*.example.com` (subdomains only), optionally with `:port` or `http://`",
                );
            }
        }
    }
    let mut fs: Vec<FsAccess> = Vec::new();
    for entry in t.tables(cx, "fs") {
        entry.deny_unknown(cx, fields::FS, DOCS);
        let path = entry
            .required_string(cx, "path", "a path in the data root", "path = \"cache\"")
            .and_then(|f| match relative_path(f.value) {
                Ok(p) if fs.iter().any(|e| e.path == p) => {
                    dup(cx, &format!("{}.path", entry.path), f.span, format!("path `{p}`"));
                    None
                }
                Ok(p) => Some(p),
                Err(why) => {
                    cx.error(
                        Code::FsPath,
                        &format!("{}.path", entry.path),
                        Some(f.span),
                        format!("`{}` {why}", f.value.escape_default()),
                        "name a folder inside the plugin's data root with a relative path, e.g. `cache`",
                    );
                    None
                }
            });
        let mode = entry
            .required_string(cx, "mode", "`ro` or `rw`", "mode = \"ro\"")
            .and_then(|f| match f.value {
                "ro" => Some(FsMode::Ro),
                "rw" => Some(FsMode::Rw),
                other => {
                    cx.error(
                        Code::FsMode,
                        &format!("{}.mode", entry.path),
                        Some(f.span),
                        format!("`{}` is not an access mode", other.escape_default()),
                        "write `mode = \"ro\"` (read only) or `mode = \"rw\"` (read and write)",
                    );
                    None
                }
            });
        match (path, mode) {
            (Some(path), Some(mode)) => fs.push(FsAccess { path, mode }),
            _ => ok = false,
        }
    }
    let mut secrets: Vec<String> = Vec::new();
    for (i, f) in t.strings(cx, "secrets").into_iter().enumerate() {
        let path = format!("capabilities.secrets[{i}]");
        if !valid_secret_key(f.value) {
            ok = false;
            cx.error(
                Code::SecretKey,
                &path,
                Some(f.span),
                format!("`{}` is not a valid secret key", f.value.escape_default()),
                "use letters, digits, `_`, `.` or `-`, starting with a letter or `_`, e.g. `WEATHER_API_KEY`",
            );
        } else if secrets.iter().any(|s| s == f.value) {
            ok = false;
            dup(cx, &path, f.span, format!("secret `{}`", f.value));
        } else {
            secrets.push(f.value.to_owned());
        }
    }
    let websocket = read_patterns::<WebSocketPattern>(
        cx,
        t,
        "websocket",
        Code::WebSocketPattern,
        "write an endpoint host like `gateway.example.com` (wss://, the default) or `ws://127.0.0.1:9000`, optionally with `:port`; no path",
        &mut ok,
    );
    let routes = read_patterns::<RoutePattern>(
        cx,
        t,
        "routes",
        Code::RoutePattern,
        "write a path on the host's inbound listener, e.g. `/hooks/acme`: letters, digits, `-`, `_`, `.`, `~` between `/`",
        &mut ok,
    );
    let log = t.boolean(cx, "log").is_none_or(|f| f.value);
    ok.then_some(Capabilities {
        https,
        fs,
        secrets,
        websocket,
        routes,
        log,
    })
}

/// A list of patterns of one capability kind, each parsed, each once.
fn read_patterns<P>(
    cx: &mut Cx<'_>,
    t: &Table<'_, '_>,
    key: &str,
    code: Code,
    fix: &str,
    ok: &mut bool,
) -> Vec<P>
where
    P: std::str::FromStr<Err = String> + PartialEq + fmt::Display,
{
    let mut out: Vec<P> = Vec::new();
    for (i, f) in t.strings(cx, key).into_iter().enumerate() {
        let path = format!("capabilities.{key}[{i}]");
        match f.value.parse::<P>() {
            Ok(p) if out.contains(&p) => {
                *ok = false;
                cx.error(
                    Code::CapabilityDuplicate,
                    &path,
                    Some(f.span),
                    format!("`{p}` is requested more than once"),
                    "request each capability once",
                );
            }
            Ok(p) => out.push(p),
            Err(why) => {
                *ok = false;
                cx.error(
                    code,
                    &path,
                    Some(f.span),
                    format!("`{}` {why}", f.value.escape_default()),
                    fix,
                );
            }
        }
    }
    out
}

fn read_build(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Build> {
    t.deny_unknown(cx, fields::BUILD, DOCS);
    let mut ok = true;
    let language = match t.string(cx, "language") {
        None => None,
        Some(f) => match f.value.parse::<Language>() {
            Ok(l) => Some(l),
            Err(_) => {
                cx.error(
                    Code::BuildLanguage,
                    "build.language",
                    Some(f.span),
                    format!("`{}` is not a language Yoi builds", f.value.escape_default()),
                    "write `language = \"rust\"`, `\"python\"` or `\"javascript\"`, or leave it out to let `yoi plugin pack` detect it",
                );
                ok = false;
                None
            }
        },
    };
    let entry = match t.string(cx, "entry") {
        None => None,
        Some(f) => match check_entry(language, f.value) {
            Ok(path) => Some(path),
            Err(why) => {
                cx.error(
                    Code::BuildEntry,
                    "build.entry",
                    Some(f.span),
                    format!("entry `{}` {why}", f.value.escape_default()),
                    "name the module holding the handlers, relative to the package folder: `entry = \"app.py\"` for Python, `entry = \"app.js\"` for JavaScript (the defaults); Rust plugins leave it out",
                );
                ok = false;
                None
            }
        },
    };
    ok.then_some(Build { language, entry })
}

fn read_limits(cx: &mut Cx<'_>, t: &Table<'_, '_>) -> Option<Limits> {
    t.deny_unknown(cx, fields::LIMITS, DOCS);
    let memory_mb = match t.integer(cx, "memory_mb") {
        None => None,
        Some(f) if MEMORY_MB_RANGE.contains(&f.value) => u32::try_from(f.value).ok(),
        Some(f) => {
            cx.error(
                Code::LimitRange,
                "limits.memory_mb",
                Some(f.span),
                format!("{} MiB is out of bounds", f.value),
                format!(
                    "use {} to {} MiB; the host clamps it to its own maximum",
                    MEMORY_MB_RANGE.start(),
                    MEMORY_MB_RANGE.end()
                ),
            );
            return None;
        }
    };
    Some(Limits { memory_mb })
}
