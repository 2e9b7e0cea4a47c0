//! `yoi.toml`: a host's configuration as a file — the plugin folders to
//! load, hot reload, limits, the host-wide capability list that caps every
//! grant, per-plugin grants and settings, the crash guard, the data root.
//! [`HostBuilder::config`](crate::HostBuilder::config) reads it; every
//! field has a builder method too. docs/configuration.md documents it and
//! `yoi.schema.json` describes it for editors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use yoi_manifest::Capability;

use crate::error::HostError;

/// The file name `yoi dev` looks for in the current folder.
pub const CONFIG_FILE: &str = "yoi.toml";

/// Largest `yoi.toml` read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// JSON Schema of `yoi.toml` (draft-07), for editors and other tools.
pub const CONFIG_SCHEMA: &str = include_str!("../yoi.schema.json");

/// The field names of each table of `yoi.toml`; the schema lists the same
/// (a test checks).
#[allow(missing_docs)]
pub mod fields {
    pub const TOP: &[&str] = &[
        "host",
        "plugins",
        "limits",
        "crash_guard",
        "capabilities",
        "grants",
        "settings",
        "points",
        "mcp",
        "trust",
    ];
    pub const HOST: &[&str] = &["name", "data", "cache", "hot_reload"];
    pub const PLUGINS: &[&str] = &["folders"];
    pub const LIMITS: &[&str] = &[
        "memory_mb",
        "chain_budget_ms",
        "tool_timeout_ms",
        "max_calls",
        "max_calls_per_plugin",
        "queue_wait_ms",
        "reuse_instances",
    ];
    pub const CRASH_GUARD: &[&str] = &["failures", "window_s"];
    pub const CAPABILITIES: &[&str] = &["allow", "deny"];
    pub const MCP: &[&str] = &["max_response_bytes", "recheck_s", "stdio_commands"];
    pub const TRUST: &[&str] = &["require_signatures"];
    pub const POINT: &[&str] = &[
        "name",
        "schema",
        "schema_file",
        "changeable",
        "block",
        "timeout_ms",
    ];
}

/// Largest JSON Schema file a `[[points]]` entry names.
const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

/// `[[points]]`: a hook point this host declares (docs/hooks.md,
/// "Host-defined points"), like [`HostBuilder::host_point`](crate::HostBuilder::host_point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointSection {
    /// The point, `namespace.name` outside Yoi's namespaces.
    pub name: String,
    /// The JSON Schema of its event, written inline.
    pub schema: Option<serde_json::Value>,
    /// Or a JSON file holding it (relative to the file).
    pub schema_file: Option<PathBuf>,
    /// The top-level fields a handler may change.
    #[serde(default)]
    pub changeable: Vec<String>,
    /// Whether a handler may block the event.
    #[serde(default)]
    pub block: bool,
    /// The time limit of a handler whose manifest sets none, ms.
    pub timeout_ms: Option<u64>,
}

/// `[host]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    /// The host's name in logs and events.
    pub name: Option<String>,
    /// The folder holding each plugin's data root (relative to the file).
    pub data: Option<PathBuf>,
    /// The compile cache folder (relative to the file).
    pub cache: Option<PathBuf>,
    /// Whether the plugin folders are watched and reloaded on change
    /// (default: on).
    pub hot_reload: Option<bool>,
}

/// `[plugins]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// Package folders, or folders whose subfolders are packages
    /// (relative to the file).
    #[serde(default)]
    pub folders: Vec<PathBuf>,
}

/// `[limits]`; each unset one keeps the host's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Memory cap per instance, MiB.
    pub memory_mb: Option<u32>,
    /// A hook chain's time budget, ms.
    pub chain_budget_ms: Option<u64>,
    /// A tool call's time limit, ms.
    pub tool_timeout_ms: Option<u64>,
    /// Guest calls running at once in the host.
    pub max_calls: Option<u32>,
    /// Guest calls running at once per plugin.
    pub max_calls_per_plugin: Option<u32>,
    /// Longest wait for a call slot, ms.
    pub queue_wait_ms: Option<u64>,
    /// Whether healthy instances are kept warm for later events (default:
    /// off, a fresh instance per event).
    pub reuse_instances: Option<bool>,
}

/// `[mcp]`: how the registry's remote MCP servers are served
/// (docs/mcp.md, "Yoi as a gateway").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpSection {
    /// The most bytes of one answer read from a server.
    pub max_response_bytes: Option<u64>,
    /// Seconds a server's live tool list is trusted before a call lists it
    /// again (0: before every call).
    pub recheck_s: Option<u64>,
    /// Programs this host may start as stdio MCP servers. They run outside
    /// every sandbox; none unless listed.
    #[serde(default)]
    pub stdio_commands: Vec<String>,
}

/// `[trust]`: this host's cap on the registry's trust policy
/// (docs/distribution.md, "Trust").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// Load only versions with a trusted signature, whatever the
    /// registry's policy requires. The registry cannot turn this off.
    pub require_signatures: Option<bool>,
}

/// `[crash_guard]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashGuardSection {
    /// Failures within the window that unload a plugin (0: off).
    pub failures: Option<u32>,
    /// The window, in seconds.
    pub window_s: Option<u64>,
}

/// `[capabilities]`: what this host lets any plugin be granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesSection {
    /// Grants are allowed only within one of these (`yoi grant` forms).
    #[serde(default)]
    pub allow: Vec<String>,
    /// No grant may reach any of these, even within `allow`.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// What a plugin loaded from a folder is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GrantSpec {
    /// `"requested"`: everything its plugin.toml requests (within the
    /// host's `[capabilities]`).
    Keyword(String),
    /// These grants, `yoi grant` forms.
    List(Vec<String>),
}

/// A parsed, checked `yoi.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// `[host]`.
    #[serde(default)]
    pub host: HostSection,
    /// `[plugins]`.
    #[serde(default)]
    pub plugins: PluginsSection,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[crash_guard]`.
    #[serde(default)]
    pub crash_guard: CrashGuardSection,
    /// `[capabilities]`.
    #[serde(default)]
    pub capabilities: CapabilitiesSection,
    /// `[grants]`: plugin id → its grants.
    #[serde(default)]
    pub grants: BTreeMap<String, GrantSpec>,
    /// `[settings.ID]`: plugin id → values of its `[config]` settings.
    #[serde(default)]
    pub settings: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// `[[points]]`: the hook points this host declares.
    #[serde(default)]
    pub points: Vec<PointSection>,
    /// `[mcp]`: how remote MCP servers' tools are served.
    #[serde(default)]
    pub mcp: McpSection,
    /// `[trust]`: signatures this host requires.
    #[serde(default)]
    pub trust: TrustSection,
    /// The folder the file is in; relative paths are relative to it.
    #[serde(skip)]
    pub base: PathBuf,
}

/// The host-wide capability list: a grant is given only within `allow`
/// and away from everything in `deny`. Built from `[capabilities]` or
/// [`HostBuilder::capabilities`](crate::HostBuilder::capabilities).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityCap {
    pub(crate) allow: Vec<Capability>,
    pub(crate) deny: Vec<Capability>,
}

impl CapabilityCap {
    /// A list allowing `allow` and refusing `deny`, `yoi grant` forms.
    pub fn new(allow: &[&str], deny: &[&str]) -> Result<CapabilityCap, HostError> {
        let parse = |list: &[&str], field: &str| {
            list.iter()
                .enumerate()
                .map(|(i, text)| {
                    text.parse::<Capability>()
                        .map_err(|e| HostError::HostConfig {
                            file: PathBuf::from("(code)"),
                            reason: format!("capabilities.{field}[{i}]: {e}"),
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(CapabilityCap {
            allow: parse(allow, "allow")?,
            deny: parse(deny, "deny")?,
        })
    }

    /// The patterns grants must lie within.
    pub fn allow_list(&self) -> &[Capability] {
        &self.allow
    }

    /// The patterns no grant may reach.
    pub fn deny_list(&self) -> &[Capability] {
        &self.deny
    }

    /// Why `grant` is not allowed on this host, if it is not.
    pub fn refuses(&self, grant: &Capability) -> Option<String> {
        if let Some(d) = self
            .deny
            .iter()
            .find(|d| grant.within(d) || d.within(grant))
        {
            return Some(format!(
                "the host's capability list denies `{d}` (yoi.toml [capabilities] deny), and `{grant}` reaches it"
            ));
        }
        if !self.allow.iter().any(|a| grant.within(a)) {
            return Some(format!(
                "the host's capability list does not allow `{grant}`; add it (or a wider pattern) to `allow` in yoi.toml [capabilities] (docs/configuration.md)"
            ));
        }
        None
    }
}

impl HostConfig {
    /// Reads and checks `path`: every problem at once, each naming its
    /// field, with what to write instead.
    pub fn load(path: impl AsRef<Path>) -> Result<HostConfig, HostError> {
        let path = path.as_ref();
        let fail = |reason: String| HostError::HostConfig {
            file: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            fail(format!(
                "cannot read it: {e}; write one (docs/configuration.md), or name another with --config"
            ))
        })?;
        if !meta.is_file() || meta.len() > MAX_CONFIG_BYTES {
            return Err(fail(format!(
                "it must be a regular file of at most {MAX_CONFIG_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read it as UTF-8 text: {e}")))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        HostConfig::parse(&text, base).map_err(fail)
    }

    /// Parses `yoi.toml` text whose relative paths are relative to `base`.
    pub fn parse(text: &str, base: PathBuf) -> Result<HostConfig, String> {
        let config: HostConfig = toml::from_str(text).map_err(|e| {
            let mut message = e.message().trim_end().to_owned();
            if let Some(span) = e.span() {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                message = format!("line {line}: {message}");
            }
            format!("{message} (docs/configuration.md lists every field)")
        })?;
        Self::finish(config, base)
    }

    /// [`HostConfig::parse`] for a configuration given as JSON in
    /// `yoi.toml`'s shape (the Node and Python packages' builder options).
    pub fn from_json(value: serde_json::Value, base: PathBuf) -> Result<HostConfig, String> {
        let config: HostConfig = serde_json::from_value(value)
            .map_err(|e| format!("{e} (docs/configuration.md lists every field)"))?;
        Self::finish(config, base)
    }

    /// Reads the schema files and checks everything, with every problem.
    fn finish(mut config: HostConfig, base: PathBuf) -> Result<HostConfig, String> {
        config.base = base;
        config.read_schema_files()?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems.join("; "))
        }
    }

    /// Reads the schema each `[[points]]` entry names by file into it.
    fn read_schema_files(&mut self) -> Result<(), String> {
        let base = self.base.clone();
        for (i, point) in self.points.iter_mut().enumerate() {
            let file = match (&point.schema_file, &point.schema) {
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "points[{i}]: give `schema` or `schema_file`, not both"
                    ));
                }
                (Some(file), None) => file,
                (None, _) => continue,
            };
            let path = if file.is_absolute() {
                file.clone()
            } else {
                base.join(file)
            };
            let fail = |why: String| format!("points[{i}].schema_file: {}: {why}", path.display());
            let meta = std::fs::metadata(&path).map_err(|e| fail(e.to_string()))?;
            if !meta.is_file() || meta.len() > MAX_SCHEMA_BYTES {
                return Err(fail(format!(
                    "it must be a regular file of at most {MAX_SCHEMA_BYTES} bytes"
                )));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
            let schema =
                serde_json::from_str(&text).map_err(|e| fail(format!("it is not JSON: {e}")))?;
            point.schema = Some(schema);
        }
        Ok(())
    }

    /// The `[[points]]` declarations, built.
    pub fn host_points(&self) -> Result<Vec<crate::HostPointSpec>, String> {
        let mut out: Vec<crate::HostPointSpec> = Vec::new();
        for (i, p) in self.points.iter().enumerate() {
            let at = |why: String| format!("points[{i}] (`{}`): {why}", p.name);
            let schema = p.schema.clone().ok_or_else(|| {
                at(
                    "give the event's JSON Schema as `schema = { ... }` or `schema_file = \"...\"`"
                        .into(),
                )
            })?;
            let mut spec = crate::HostPointSpec::new(&p.name, schema)
                .and_then(|s| s.changeable(&p.changeable))
                .map_err(|e| at(e.to_string()))?
                .may_block(p.block);
            if let Some(ms) = p.timeout_ms {
                if ms == 0 || ms > u64::from(yoi_manifest::Hook::MAX_TIMEOUT_MS) {
                    return Err(at(format!(
                        "timeout_ms must be 1 to {}",
                        yoi_manifest::Hook::MAX_TIMEOUT_MS
                    )));
                }
                spec = spec.default_timeout(Duration::from_millis(ms));
            }
            if out.iter().any(|o| o.point() == spec.point()) {
                return Err(at("is declared twice; declare each point once".into()));
            }
            out.push(spec);
        }
        Ok(out)
    }

    /// Everything wrong beyond the syntax.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.host_points() {
            out.push(e);
        }
        for (field, list) in [
            ("allow", &self.capabilities.allow),
            ("deny", &self.capabilities.deny),
        ] {
            for (i, text) in list.iter().enumerate() {
                if let Err(e) = text.parse::<Capability>() {
                    out.push(format!("capabilities.{field}[{i}]: {e}"));
                }
            }
        }
        for (plugin, spec) in &self.grants {
            if let Err(e) = yoi_manifest::PluginId::new(plugin) {
                out.push(format!("grants: `{plugin}` is not a plugin id: it {e}"));
            }
            match spec {
                GrantSpec::Keyword(k) if k == "requested" => {}
                GrantSpec::Keyword(k) => out.push(format!(
                    "grants.\"{plugin}\": `{k}` is neither \"requested\" nor a list of grants; write `\"requested\"` or `[\"https:api.example.com\"]`"
                )),
                GrantSpec::List(list) => {
                    for (i, text) in list.iter().enumerate() {
                        if let Err(e) = text.parse::<Capability>() {
                            out.push(format!("grants.\"{plugin}\"[{i}]: {e}"));
                        }
                    }
                }
            }
        }
        for plugin in self.settings.keys() {
            if let Err(e) = yoi_manifest::PluginId::new(plugin) {
                out.push(format!("settings: `{plugin}` is not a plugin id: it {e}"));
            }
        }
        let l = &self.limits;
        let bounded = |out: &mut Vec<String>, field: &str, v: Option<u64>, max: u64| {
            if v.is_some_and(|v| v == 0 || v > max) {
                out.push(format!("limits.{field} must be 1 to {max}"));
            }
        };
        bounded(&mut out, "memory_mb", l.memory_mb.map(u64::from), 4096);
        bounded(&mut out, "chain_budget_ms", l.chain_budget_ms, 600_000);
        bounded(&mut out, "tool_timeout_ms", l.tool_timeout_ms, 600_000);
        bounded(&mut out, "max_calls", l.max_calls.map(u64::from), 100_000);
        bounded(
            &mut out,
            "max_calls_per_plugin",
            l.max_calls_per_plugin.map(u64::from),
            100_000,
        );
        bounded(&mut out, "queue_wait_ms", l.queue_wait_ms, 600_000);
        if self
            .crash_guard
            .window_s
            .is_some_and(|w| w == 0 || w > 86_400)
        {
            out.push("crash_guard.window_s must be 1 to 86400".into());
        }
        out
    }

    /// A path of the file, resolved against its folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// The host-wide capability list.
    pub fn cap(&self) -> CapabilityCap {
        let parse = |list: &[String]| list.iter().filter_map(|t| t.parse().ok()).collect();
        CapabilityCap {
            allow: parse(&self.capabilities.allow),
            deny: parse(&self.capabilities.deny),
        }
    }

    /// Whether folders are watched (default: on).
    pub fn hot_reload(&self) -> bool {
        self.host.hot_reload.unwrap_or(true)
    }

    /// The plugin folders, resolved.
    pub fn folders(&self) -> Vec<PathBuf> {
        self.plugins
            .folders
            .iter()
            .map(|f| self.resolve(f))
            .collect()
    }

    pub(crate) fn millis(v: Option<u64>) -> Option<Duration> {
        v.map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HostConfig, String> {
        HostConfig::parse(text, PathBuf::from("/etc/yoi"))
    }

    #[test]
    fn an_empty_file_allows_nothing() {
        let c = parse("").expect("empty is valid");
        let grant: Capability = "https:api.example.com".parse().unwrap();
        assert!(c.cap().refuses(&grant).is_some());
        assert!(c.hot_reload());
    }

    #[test]
    fn allow_caps_and_deny_wins() {
        let c = parse(
            r#"
[capabilities]
allow = ["https:*.example.com", "fs:.:rw", "secret:KEY"]
deny = ["https:admin.example.com", "fs:private:ro"]
"#,
        )
        .expect("valid");
        let cap = c.cap();
        let ok = |g: &str| cap.refuses(&g.parse().unwrap()).is_none();
        assert!(ok("https:api.example.com"));
        assert!(!ok("https:admin.example.com"));
        assert!(!ok("https:*.example.com"), "reaches a denied host");
        assert!(ok("fs:notes:rw"));
        assert!(!ok("fs:private:rw"));
        assert!(!ok("fs:.:ro"), "the whole root holds the denied folder");
        assert!(ok("secret:KEY"));
        assert!(!ok("secret:OTHER"));
    }

    #[test]
    fn problems_name_their_field_and_paths_resolve_against_the_file() {
        let err = parse(
            r#"
[host]
nmae = "x"
"#,
        )
        .unwrap_err();
        assert!(
            err.contains("line 3") && err.contains("unknown field `nmae`"),
            "{err}"
        );
        let err = parse(
            r#"
[capabilities]
allow = ["htps:x"]
[grants]
"Bad Id" = "everything"
[limits]
memory_mb = 0
"#,
        )
        .unwrap_err();
        for part in [
            "capabilities.allow[0]",
            "`Bad Id` is not a plugin id",
            "neither \"requested\"",
            "limits.memory_mb must be 1 to 4096",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let c = parse("[plugins]\nfolders = [\"plugins\", \"/abs\"]").expect("valid");
        assert_eq!(
            c.folders(),
            [PathBuf::from("/etc/yoi/plugins"), PathBuf::from("/abs")]
        );
    }

    /// `yoi.schema.json` lists exactly the fields the parser reads, and
    /// the parser refuses every other.
    #[test]
    fn the_schema_lists_exactly_the_parsers_fields() {
        let schema: serde_json::Value = serde_json::from_str(CONFIG_SCHEMA).expect("JSON");
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        let sorted = |f: &[&str]| {
            let mut f: Vec<String> = f.iter().map(|s| (*s).to_owned()).collect();
            f.sort();
            f
        };
        let p = &schema["properties"];
        for (name, table, expected) in [
            ("top", &schema, fields::TOP),
            ("host", &p["host"], fields::HOST),
            ("plugins", &p["plugins"], fields::PLUGINS),
            ("limits", &p["limits"], fields::LIMITS),
            ("crash_guard", &p["crash_guard"], fields::CRASH_GUARD),
            ("capabilities", &p["capabilities"], fields::CAPABILITIES),
            ("mcp", &p["mcp"], fields::MCP),
            ("trust", &p["trust"], fields::TRUST),
            ("points", &p["points"]["items"], fields::POINT),
        ] {
            assert_eq!(keys(table), sorted(expected), "{name}");
            if name != "top" {
                let text = if name == "points" {
                    "[[points]]\nname = \"build.x\"\nnot_a_field = 1\n".to_owned()
                } else {
                    format!("[{name}]\nnot_a_field = 1\n")
                };
                let err = parse(&text).unwrap_err();
                assert!(err.contains("unknown field"), "{name}: {err}");
                for field in expected {
                    assert!(err.contains(field), "{name}: {field} in {err}");
                }
            }
        }
    }

    #[test]
    fn points_are_declared_inline_or_from_a_file_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("post.json"),
            r#"{"type": "object", "required": ["ok"]}"#,
        )
        .expect("write");
        let text = r#"
[[points]]
name = "build.pre_compile"
schema = { type = "object", required = ["target"] }
changeable = ["flags"]
block = true
timeout_ms = 250

[[points]]
name = "build.post_compile"
schema_file = "post.json"
"#;
        let c = HostConfig::parse(text, dir.path().to_path_buf()).expect("valid");
        let points = c.host_points().expect("built");
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].point().as_str(), "build.pre_compile");
        assert_eq!(points[0].changeable_fields(), ["flags"]);
        assert!(points[0].can_block());
        assert_eq!(points[0].timeout(), Duration::from_millis(250));
        assert_eq!(points[1].schema()["required"][0], "ok");
        assert!(!points[1].can_block());

        for (bad, expected) in [
            (
                "[[points]]\nname = \"tool.mine\"\nschema = { type = \"object\" }\n",
                "namespace of Yoi's own",
            ),
            (
                "[[points]]\nname = \"build.x\"\n",
                "give the event's JSON Schema",
            ),
            (
                "[[points]]\nname = \"build.x\"\nschema = { type = \"object\" }\nschema_file = \"post.json\"\n",
                "not both",
            ),
            (
                "[[points]]\nname = \"build.x\"\nschema_file = \"missing.json\"\n",
                "points[0].schema_file",
            ),
            (
                "[[points]]\nname = \"build.x\"\nschema = { type = 5 }\n",
                "points[0] (`build.x`)",
            ),
            (
                "[[points]]\nname = \"build.x\"\nschema = { type = \"object\" }\ntimeout_ms = 0\n",
                "timeout_ms must be 1 to 30000",
            ),
            (
                "[[points]]\nname = \"build.x\"\nschema = { type = \"object\" }\n[[points]]\nname = \"build.x\"\nschema = { type = \"object\" }\n",
                "declared twice",
            ),
        ] {
            let err = HostConfig::parse(bad, dir.path().to_path_buf()).expect_err(bad);
            assert!(err.contains(expected), "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_fails_without_panicking(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }
    }
}
