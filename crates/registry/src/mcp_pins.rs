//! What the registry keeps of a remote MCP server (docs/mcp.md, "Yoi as a
//! gateway"): where it is, and the tool list an operator pinned, each tool
//! digested as the server sent it. A host serves only pinned tools; when a
//! server's live list differs, the differing tools are held back until an
//! operator approves the new list (the operations are `mcp_servers`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use yoi_manifest::PluginId;

use crate::error::RegistryError;
use crate::model::now_ms;

/// The most tools Yoi pins from one server; a longer list is refused.
pub const MAX_MCP_TOOLS: usize = 1000;
/// The longest tool description pinned, in bytes.
pub const MAX_MCP_DESCRIPTION: usize = 16 * 1024;
/// The largest input schema pinned, in bytes of JSON.
pub const MAX_MCP_SCHEMA: usize = 64 * 1024;
/// The longest tool name MCP allows.
pub const MAX_MCP_TOOL_NAME: usize = 128;

/// Where a server is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "snake_case")]
pub enum McpEndpoint {
    /// Streamable HTTP: an `https:` URL, or `http:` on loopback.
    Http {
        /// The endpoint URL.
        url: String,
    },
    /// A local process the host starts, speaking MCP on stdin and stdout.
    /// It runs outside every sandbox: a host starts it only when its own
    /// configuration names the command (docs/mcp.md).
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl McpEndpoint {
    /// Whether the server runs outside every sandbox (a local process).
    pub fn unsandboxed(&self) -> bool {
        matches!(self, McpEndpoint::Stdio { .. })
    }

    /// The endpoint for people: the URL, or the command line.
    pub fn shown(&self) -> String {
        match self {
            McpEndpoint::Http { url } => url.clone(),
            McpEndpoint::Stdio { command, args } => {
                let mut line = format!("stdio: {command}");
                for a in args {
                    line.push(' ');
                    line.push_str(a);
                }
                line
            }
        }
    }

    /// Checks the endpoint an operator wrote: an `https:` URL, or `http:`
    /// to a loopback host written out; a command that is a plain path.
    pub fn check(&self) -> Result<(), String> {
        match self {
            McpEndpoint::Http { url } => check_url(url),
            McpEndpoint::Stdio { command, args } => {
                if command.is_empty() || command.chars().any(char::is_control) {
                    return Err("the command is empty or holds control characters".into());
                }
                if args.iter().any(|a| a.contains('\0')) {
                    return Err("an argument holds a NUL character".into());
                }
                Ok(())
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "URLs with a user name or password are refused; give the token with --token-secret"
                .into(),
        );
    }
    if parsed.fragment().is_some() {
        return Err("the URL has a fragment (`#...`); remove it".into());
    }
    let host = parsed
        .host()
        .ok_or_else(|| format!("`{url}` names no host"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match host {
                url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "plain http:// is only for loopback (localhost, 127.0.0.0/8, [::1]); use https://{}",
                    parsed.host_str().unwrap_or_default()
                ))
            }
        }
        other => Err(format!(
            "scheme `{other}` is not an MCP transport Yoi speaks; write https://... (Streamable HTTP)"
        )),
    }
}

/// A tool as a server lists it, before pinning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpToolDef {
    /// Its name.
    pub name: String,
    /// Its description, as the server sent it.
    #[serde(default)]
    pub description: Option<String>,
    /// Its input schema, as the server sent it.
    #[serde(default)]
    pub input_schema: Value,
    /// Its annotations (hints), as the server sent them.
    #[serde(default)]
    pub annotations: Option<Value>,
}

/// A pinned tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedTool {
    /// Its name on the server (served as `SERVER.NAME`).
    pub name: String,
    /// Its description, with terminal escapes and control characters
    /// removed (the digest is of what the server sent).
    pub description: String,
    /// Its input schema.
    pub input_schema: Value,
    /// Its annotations.
    #[serde(default)]
    pub annotations: Option<Value>,
    /// `sha256:` of the tool as the server sent it (name, description,
    /// schema, annotations, in canonical JSON).
    pub digest: String,
}

/// A tool a list held that Yoi does not pin, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The tool's name (escaped when it is not a valid name).
    pub name: String,
    /// Why it is not pinned.
    pub why: String,
}

/// A server's tool list as pinned (or seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolList {
    /// The tools pinned, by name.
    pub tools: Vec<PinnedTool>,
    /// Tools left out, with why.
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
    /// `sha256:` over the whole list as sent (each tool's digest).
    pub digest: String,
    /// When it was fetched, ms since the Unix epoch.
    pub fetched_at: i64,
    /// Who fetched it: an operator, or a host that saw it live.
    pub fetched_by: String,
}

impl ToolList {
    /// Pins `defs`: checks each tool (name, sizes, an object schema),
    /// cleans descriptions, and digests the list. More than
    /// [`MAX_MCP_TOOLS`] tools are refused.
    pub fn pin(defs: &[McpToolDef], by: &str) -> Result<ToolList, String> {
        if defs.len() > MAX_MCP_TOOLS {
            return Err(format!(
                "the server lists {} tools; Yoi pins at most {MAX_MCP_TOOLS} per server",
                defs.len()
            ));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for d in defs {
            *seen.entry(d.name.as_str()).or_default() += 1;
        }
        let mut tools = Vec::new();
        let mut left_out = Vec::new();
        let mut digests = Vec::new();
        for d in defs {
            let digest = tool_digest(d);
            digests.push(format!("{}\n{digest}", d.name));
            match check_tool(d, seen.get(d.name.as_str()).copied().unwrap_or(0)) {
                Ok(()) => tools.push(PinnedTool {
                    name: d.name.clone(),
                    description: clean_text(d.description.as_deref().unwrap_or_default()),
                    input_schema: d.input_schema.clone(),
                    annotations: d.annotations.clone(),
                    digest,
                }),
                Err(why) => left_out.push(LeftOut {
                    name: shown_name(&d.name),
                    why,
                }),
            }
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        digests.sort();
        Ok(ToolList {
            tools,
            left_out,
            digest: sha256(digests.join("\n").as_bytes()),
            fetched_at: now_ms(),
            fetched_by: by.to_owned(),
        })
    }

    /// A pinned tool by name.
    pub fn tool(&self, name: &str) -> Option<&PinnedTool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

fn check_tool(d: &McpToolDef, copies: usize) -> Result<(), String> {
    if d.name.is_empty()
        || d.name.len() > MAX_MCP_TOOL_NAME
        || !d
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(format!(
            "its name is not 1 to {MAX_MCP_TOOL_NAME} of A-Z a-z 0-9 _ - . (MCP's tool-name rule)"
        ));
    }
    if copies > 1 {
        return Err(format!("the list names it {copies} times"));
    }
    let description = d.description.as_deref().unwrap_or_default();
    if description.len() > MAX_MCP_DESCRIPTION {
        return Err(format!(
            "its description is {} bytes; at most {MAX_MCP_DESCRIPTION} are pinned",
            description.len()
        ));
    }
    let schema_bytes = d.input_schema.to_string().len();
    if schema_bytes > MAX_MCP_SCHEMA {
        return Err(format!(
            "its input schema is {schema_bytes} bytes of JSON; at most {MAX_MCP_SCHEMA} are pinned"
        ));
    }
    yoi_manifest::check_input_schema(&d.input_schema)
        .map_err(|e| format!("its input schema is not an object JSON Schema: {e}"))?;
    if let Some(a) = &d.annotations
        && !a.is_object()
    {
        return Err("its annotations are not an object".into());
    }
    Ok(())
}

/// A name from a server as it may be shown: escaped and cut short when it
/// is not a valid tool name.
fn shown_name(name: &str) -> String {
    let cut: String = name.chars().take(80).collect();
    if cut.len() == name.len() && !name.chars().any(char::is_control) {
        cut
    } else {
        format!("{cut:?}…")
    }
}

/// The tool's digest: `sha256:` of its canonical JSON as the server sent
/// it.
fn tool_digest(d: &McpToolDef) -> String {
    let mut text = String::new();
    canonical(
        &serde_json::json!({
            "name": d.name,
            "description": d.description,
            "inputSchema": d.input_schema,
            "annotations": d.annotations,
        }),
        &mut text,
    );
    sha256(text.as_bytes())
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// JSON with object keys sorted at every level, so the same value always
/// has the same text whatever order the server sent keys in.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Text from a server made safe to show a model or a terminal: ANSI escape
/// sequences, control characters (but newline and tab) and the invisible
/// direction overrides are removed.
pub fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            c => out.push(c),
        }
    }
    out
}

/// How one tool differs between two lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ToolChange {
    /// In the new list only.
    Added {
        /// The tool.
        name: String,
    },
    /// In the old list only.
    Removed {
        /// The tool.
        name: String,
    },
    /// In both, different.
    Changed {
        /// The tool.
        name: String,
        /// What differs: `description`, `input_schema`, `annotations`
        /// (none listed: only characters Yoi does not show).
        fields: Vec<&'static str>,
    },
}

impl ToolChange {
    /// The tool's name.
    pub fn name(&self) -> &str {
        match self {
            ToolChange::Added { name }
            | ToolChange::Removed { name }
            | ToolChange::Changed { name, .. } => name,
        }
    }
}

/// The tools that differ from `old` to `new`, by name.
pub fn diff(old: &ToolList, new: &ToolList) -> Vec<ToolChange> {
    let names: BTreeSet<&str> = old
        .tools
        .iter()
        .chain(&new.tools)
        .map(|t| t.name.as_str())
        .collect();
    let mut out = Vec::new();
    for name in names {
        match (old.tool(name), new.tool(name)) {
            (None, Some(_)) => out.push(ToolChange::Added { name: name.into() }),
            (Some(_), None) => out.push(ToolChange::Removed { name: name.into() }),
            (Some(a), Some(b)) if a.digest != b.digest => {
                let mut fields = Vec::new();
                if a.description != b.description {
                    fields.push("description");
                }
                if a.input_schema != b.input_schema {
                    fields.push("input_schema");
                }
                if a.annotations != b.annotations {
                    fields.push("annotations");
                }
                out.push(ToolChange::Changed {
                    name: name.into(),
                    fields,
                });
            }
            _ => {}
        }
    }
    out
}

/// A declared MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerRecord {
    /// Its name: a plugin id, so its tools are `NAME.tool`.
    pub name: PluginId,
    /// Where it is.
    pub endpoint: McpEndpoint,
    /// The name of its token (`--token-secret KEY`); the token itself is
    /// sealed and never shown.
    #[serde(default)]
    pub token_secret: Option<String>,
    /// The list an operator pinned.
    pub pinned: ToolList,
    /// A live list that differs from the pinned one, awaiting approval.
    #[serde(default)]
    pub pending: Option<ToolList>,
    /// Who added it.
    pub added_by: String,
    /// When, ms since the Unix epoch.
    pub added_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// How the waiting list differs from the pinned one, tool by tool
    /// (what [`McpServerRecord::changes`] computes; filled when read).
    #[serde(default, skip_deserializing)]
    pub waiting: Vec<ToolChange>,
    /// The sealed token, as stored; never serialized.
    #[serde(skip)]
    pub sealed_token: Option<String>,
}

impl McpServerRecord {
    /// The record as stored: its JSON (without the token) and the sealed
    /// token.
    pub(crate) fn to_row(&self) -> Result<(String, Option<String>), RegistryError> {
        let mut json = serde_json::to_value(self).map_err(|e| {
            RegistryError::Schema(format!("an MCP server record does not encode: {e}"))
        })?;
        // Derived from the lists on every read.
        if let Some(o) = json.as_object_mut() {
            o.remove("waiting");
        }
        Ok((json.to_string(), self.sealed_token.clone()))
    }

    /// A record from its stored JSON and sealed token.
    pub(crate) fn from_row(json: &str, token: Option<String>) -> Result<Self, RegistryError> {
        let mut record: McpServerRecord = serde_json::from_str(json).map_err(|e| {
            RegistryError::Schema(format!("a stored MCP server record does not decode: {e}"))
        })?;
        record.sealed_token = token;
        record.waiting = record.changes();
        Ok(record)
    }

    /// How each pinned tool stands: served, or held with the change that
    /// holds it. A tool is held when the server's live list (`pending`)
    /// changed it or no longer has it; tools only the live list has are
    /// not pinned and not served.
    pub fn served(&self) -> Vec<(&PinnedTool, Option<ToolChange>)> {
        let changes = match &self.pending {
            Some(p) => diff(&self.pinned, p),
            None => Vec::new(),
        };
        self.pinned
            .tools
            .iter()
            .map(|t| {
                let change = changes.iter().find(|c| c.name() == t.name).cloned();
                (t, change)
            })
            .collect()
    }

    /// The changes awaiting approval (empty when the live list is the
    /// pinned one).
    pub fn changes(&self) -> Vec<ToolChange> {
        self.pending
            .as_ref()
            .map_or_else(Vec::new, |p| diff(&self.pinned, p))
    }
}

/// Audit text of a list's changes: `2 changed (a, b), 1 added (c)`.
pub fn summary(changes: &[ToolChange]) -> String {
    let mut parts = Vec::new();
    for (label, kind) in [("changed", 0), ("added", 1), ("removed", 2)] {
        let names: Vec<&str> = changes
            .iter()
            .filter(|c| {
                matches!(
                    (c, kind),
                    (ToolChange::Changed { .. }, 0)
                        | (ToolChange::Added { .. }, 1)
                        | (ToolChange::Removed { .. }, 2)
                )
            })
            .map(ToolChange::name)
            .collect();
        if !names.is_empty() {
            parts.push(format!("{} {label} ({})", names.len(), names.join(", ")));
        }
    }
    if parts.is_empty() {
        "no tool changed".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(name: &str, description: &str) -> McpToolDef {
        McpToolDef {
            name: name.into(),
            description: Some(description.into()),
            input_schema: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
            annotations: None,
        }
    }

    #[test]
    fn the_digest_does_not_depend_on_key_order() {
        let a = McpToolDef {
            input_schema: json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}),
            ..def("t", "d")
        };
        let b = McpToolDef {
            input_schema: serde_json::from_str(
                r#"{"properties": {"b": {"type": "number"}, "a": {"type": "string"}}, "type": "object"}"#,
            )
            .unwrap(),
            ..def("t", "d")
        };
        assert_eq!(tool_digest(&a), tool_digest(&b));
        assert_ne!(tool_digest(&a), tool_digest(&def("t", "e")));
    }

    #[test]
    fn terminal_escapes_and_controls_are_removed() {
        let text = "ok\u{1b}[31mred\u{1b}[0m \u{1b}]8;;http://evil\u{7}link\u{1b}]8;;\u{1b}\\ \u{7}\u{0}\u{202e}gnp.exe\nline\ttab";
        assert_eq!(clean_text(text), "okred link gnp.exe\nline\ttab");
    }

    #[test]
    fn bad_tools_are_left_out_with_why() {
        let mut bad_schema = def("s", "x");
        bad_schema.input_schema = json!({"type": "string"});
        let list = ToolList::pin(
            &[
                def("ok", "fine"),
                def("dup", "1"),
                def("dup", "2"),
                def("bad name!", "x"),
                def("big", &"x".repeat(MAX_MCP_DESCRIPTION + 1)),
                bad_schema,
            ],
            "t",
        )
        .unwrap();
        assert_eq!(list.tools.len(), 1, "{list:?}");
        let why: Vec<&str> = list.left_out.iter().map(|l| l.why.as_str()).collect();
        assert_eq!(list.left_out.len(), 5, "{why:?}");
        assert!(why.iter().any(|w| w.contains("2 times")));
        assert!(why.iter().any(|w| w.contains("object JSON Schema")));
    }

    #[test]
    fn too_many_tools_are_refused() {
        let defs: Vec<McpToolDef> = (0..=MAX_MCP_TOOLS)
            .map(|i| def(&format!("t{i}"), ""))
            .collect();
        let err = ToolList::pin(&defs, "t").unwrap_err();
        assert!(err.contains("at most 1000"), "{err}");
    }

    #[test]
    fn a_changed_tool_is_held_and_others_served() {
        let pinned = ToolList::pin(&[def("a", "1"), def("b", "2")], "t").unwrap();
        let live =
            ToolList::pin(&[def("a", "1"), def("b", "changed"), def("c", "3")], "t").unwrap();
        let changes = diff(&pinned, &live);
        assert_eq!(
            changes,
            vec![
                ToolChange::Changed {
                    name: "b".into(),
                    fields: vec!["description"]
                },
                ToolChange::Added { name: "c".into() },
            ]
        );
        assert_eq!(summary(&changes), "1 changed (b), 1 added (c)");
    }

    #[test]
    fn only_https_or_loopback_http_is_accepted() {
        let http = |url: &str| McpEndpoint::Http { url: url.into() }.check();
        assert!(http("https://mcp.example.com/mcp").is_ok());
        assert!(http("http://127.0.0.1:3001/mcp").is_ok());
        assert!(http("http://[::1]:3001/mcp").is_ok());
        assert!(http("http://localhost:3001/mcp").is_ok());
        assert!(http("http://mcp.example.com/mcp").is_err());
        assert!(http("http://10.0.0.1/mcp").is_err());
        assert!(http("ftp://x/").is_err());
        assert!(http("https://user:pw@x/").is_err());
    }
}
