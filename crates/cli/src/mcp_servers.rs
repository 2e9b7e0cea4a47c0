//! `yoi mcp-server add|remove|list|show|refresh|approve`: remote MCP
//! servers whose tools hosts serve as `NAME.tool`, through the hook chain.
//! `add` and `refresh` fetch the server's tool list (through the same
//! egress checks hosts use) and pin it or show how it changed; `approve`
//! pins a changed list. docs/mcp.md, "Yoi as a gateway".

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use yoi_host::{GatewayOptions, fetch_mcp_tools};
use yoi_registry::{
    McpEndpoint, McpServerRecord, NewMcpServer, Operation, PinnedTool, ToolChange, ToolList,
};

use crate::ctx::{Ctx, print_json, time};
use crate::usage::UsageError;

/// Where `add` finds a server.
pub(crate) struct Target {
    /// The URL, or with `stdio` the program.
    pub(crate) target: String,
    /// The program's arguments (`stdio`).
    pub(crate) args: Vec<String>,
    /// A local process speaking MCP on stdin and stdout.
    pub(crate) stdio: bool,
    /// The name the token goes by; its value is read from
    /// `YOI_SECRET_<KEY>`.
    pub(crate) token_secret: Option<String>,
    /// How long the fetch may take.
    pub(crate) timeout: Duration,
}

/// The environment variable a token named `key` is read from.
fn token_var(key: &str) -> String {
    format!("YOI_SECRET_{key}")
}

/// One line of text from a server for a terminal: escapes were removed at
/// pinning; this cuts it short and keeps it on one line.
fn line(text: &str, max: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > max {
        let cut: String = one.chars().take(max).collect();
        format!("{cut}…")
    } else {
        one
    }
}

fn fetch(
    endpoint: &McpEndpoint,
    token: Option<&str>,
    timeout: Duration,
    by: &str,
) -> Result<ToolList> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(fetch_mcp_tools(
            endpoint,
            token,
            &GatewayOptions::default(),
            timeout,
            by,
        ))
        .map_err(|e| {
            anyhow::anyhow!(
                "{e}\n  fix: check that the server runs and the address is right, then try again"
            )
        })
}

/// What changed, one tool per line, like an upgrade's capability diff.
fn print_changes(old: &ToolList, new: &ToolList, changes: &[ToolChange]) {
    for c in changes {
        match c {
            ToolChange::Added { name } => {
                let d = new
                    .tool(name)
                    .map_or(String::new(), |t| line(&t.description, 70));
                outln!("  + {name:<24} {d}");
            }
            ToolChange::Removed { name } => outln!("  - {name}"),
            ToolChange::Changed { name, fields } => {
                let (Some(a), Some(b)) = (old.tool(name), new.tool(name)) else {
                    continue;
                };
                if fields.is_empty() {
                    outln!("  ~ {name:<24} changed in characters Yoi does not show");
                }
                for f in fields {
                    let (from, to) = match *f {
                        "description" => (line(&a.description, 60), line(&b.description, 60)),
                        "input_schema" => (
                            line(&a.input_schema.to_string(), 60),
                            line(&b.input_schema.to_string(), 60),
                        ),
                        _ => (
                            line(
                                &serde_json::to_string(&a.annotations).unwrap_or_default(),
                                60,
                            ),
                            line(
                                &serde_json::to_string(&b.annotations).unwrap_or_default(),
                                60,
                            ),
                        ),
                    };
                    outln!(
                        "  ~ {name:<24} {f}: {from:?}\n    {:<24} {:>w$}-> {to:?}",
                        "",
                        "",
                        w = f.len()
                    );
                }
            }
        }
    }
}

fn print_left_out(list: &ToolList) {
    for l in &list.left_out {
        outln!("  ! {:<24} not pinned: {}", l.name, l.why);
    }
}

fn tool_line(server: &str, t: &PinnedTool, held: Option<&ToolChange>) -> String {
    let state = match held {
        Some(ToolChange::Removed { .. }) => "  [held: gone from the server]",
        Some(_) => "  [held: changed]",
        None => "",
    };
    format!(
        "  {server}.{:<20} {}{state}",
        t.name,
        line(&t.description, 60)
    )
}

impl Ctx {
    /// `yoi mcp-server add`.
    pub(crate) fn mcp_server_add(
        &self,
        name: &str,
        target: Target,
        json: bool,
    ) -> Result<ExitCode> {
        let endpoint = if target.stdio {
            McpEndpoint::Stdio {
                command: target.target,
                args: target.args,
            }
        } else {
            if !target.args.is_empty() {
                bail!(UsageError(
                    "arguments after the URL are for --stdio servers only".into()
                ));
            }
            McpEndpoint::Http { url: target.target }
        };
        if let Err(why) = endpoint.check() {
            bail!(UsageError(format!(
                "{why}\n  fix: write an https:// URL, or http:// to a loopback address, or --stdio COMMAND ARGS..."
            )));
        }
        let token = match &target.token_secret {
            None => None,
            Some(key) => {
                let var = token_var(key);
                let value = std::env::var(&var).map_err(|_| {
                    UsageError(format!(
                        "--token-secret {key}: set {var} to the server's token; it is sealed in the registry and never shown again"
                    ))
                })?;
                Some((key.clone(), value))
            }
        };
        let registry = self.open()?;
        let list = fetch(
            &endpoint,
            token.as_ref().map(|(_, v)| v.as_str()),
            target.timeout,
            &self.actor,
        )?;
        let server = NewMcpServer {
            name: name.to_owned(),
            endpoint,
            token,
        };
        let record = registry.add_mcp_server(&server, &list, &self.actor)?;
        if json {
            return print_json(&record);
        }
        outln!(
            "added {name} at {}: pinned {} tools ({})",
            record.endpoint.shown(),
            record.pinned.tools.len(),
            record.pinned.digest
        );
        for t in &record.pinned.tools {
            outln!("{}", tool_line(name, t, None));
        }
        print_left_out(&record.pinned);
        if record.endpoint.unsandboxed() {
            outln!(
                "note: a stdio server runs outside every sandbox; a host starts it only when its yoi.toml names `{}` in [mcp] stdio_commands",
                match &record.endpoint {
                    McpEndpoint::Stdio { command, .. } => command.as_str(),
                    McpEndpoint::Http { .. } => "",
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi mcp-server remove`.
    pub(crate) fn mcp_server_remove(&self, name: &str) -> Result<ExitCode> {
        let registry = self.open()?;
        self.apply(&registry, Operation::McpServerRemove { name: name.into() })?;
        outln!("removed {name}: hosts stop serving its tools at their next reload");
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi mcp-server list`.
    pub(crate) fn mcp_server_list(&self, json: bool) -> Result<ExitCode> {
        let servers = self.open()?.mcp_servers()?;
        if json {
            return print_json(&servers);
        }
        if servers.is_empty() {
            outln!("no MCP server is declared; `yoi mcp-server add NAME URL` adds one");
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{:<20} {:>6} {:>5}  {:<22} endpoint",
            "server",
            "tools",
            "held",
            "pinned"
        );
        for s in &servers {
            let held = s
                .waiting
                .iter()
                .filter(|c| !matches!(c, ToolChange::Added { .. }))
                .count();
            outln!(
                "{:<20} {:>6} {:>5}  {:<22} {}{}",
                s.name,
                s.pinned.tools.len(),
                held,
                format!("{}…", &s.pinned.digest[..s.pinned.digest.len().min(20)]),
                s.endpoint.shown(),
                if s.endpoint.unsandboxed() {
                    "  [unsandboxed]"
                } else {
                    ""
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi mcp-server show`.
    pub(crate) fn mcp_server_show(&self, name: &str, json: bool) -> Result<ExitCode> {
        let s = self.open()?.mcp_server(name)?;
        if json {
            return print_json(&s);
        }
        self.print_server(&s);
        Ok(ExitCode::SUCCESS)
    }

    fn print_server(&self, s: &McpServerRecord) {
        outln!("{}", s.name);
        outln!(
            "  endpoint   {}{}",
            s.endpoint.shown(),
            if s.endpoint.unsandboxed() {
                " (a local process: outside every sandbox)"
            } else {
                ""
            }
        );
        outln!(
            "  token      {}",
            s.token_secret
                .as_deref()
                .map_or("none".to_owned(), |k| format!("{k} (sealed)"))
        );
        outln!("  added      {} by {}", time(s.added_at), s.added_by);
        outln!(
            "  pinned     {} ({} tools, fetched {} by {})",
            s.pinned.digest,
            s.pinned.tools.len(),
            time(s.pinned.fetched_at),
            s.pinned.fetched_by
        );
        outln!("tools");
        for t in &s.pinned.tools {
            let held = s.waiting.iter().find(|c| c.name() == t.name);
            outln!("{}", tool_line(s.name.as_str(), t, held));
        }
        print_left_out(&s.pinned);
        if let Some(p) = &s.pending {
            outln!(
                "waiting for approval: {} (seen {} by {})",
                p.digest,
                time(p.fetched_at),
                p.fetched_by
            );
            print_changes(&s.pinned, p, &s.waiting);
            outln!(
                "  approve:   yoi mcp-server approve {} --digest {}",
                s.name,
                p.digest
            );
        }
    }

    /// `yoi mcp-server refresh`: fetches the live list; a difference is
    /// recorded and printed, and the changed tools are held.
    pub(crate) fn mcp_server_refresh(
        &self,
        name: &str,
        timeout: Duration,
        json: bool,
    ) -> Result<ExitCode> {
        let registry = self.open()?;
        let record = registry.mcp_server(name)?;
        let token = registry
            .mcp_token(&record)
            .context("opening the server's sealed token")?;
        let live = match fetch(&record.endpoint, token.as_deref(), timeout, &self.actor) {
            Ok(live) => live,
            Err(e) => {
                registry.record_refusal(
                    &self.actor,
                    "mcp_server_refresh",
                    Some(name),
                    None,
                    &format!("{e:#}"),
                )?;
                return Err(e);
            }
        };
        let updated = registry
            .observe_mcp_tools(name, &live, &self.actor, "mcp_server_refresh")?
            .unwrap_or(record);
        if json {
            return print_json(&updated);
        }
        match &updated.pending {
            None => outln!(
                "{name}: the live list is the pinned list ({}, {} tools)",
                updated.pinned.digest,
                updated.pinned.tools.len()
            ),
            Some(p) => {
                outln!(
                    "{name}: the live list differs from the pinned one\n  pinned {}\n  live   {}",
                    updated.pinned.digest,
                    p.digest
                );
                print_changes(&updated.pinned, p, &updated.waiting);
                print_left_out(p);
                outln!(
                    "changed and removed tools are held (not served) until you approve:\n  yoi mcp-server approve {name} --digest {}",
                    p.digest
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `yoi mcp-server approve`.
    pub(crate) fn mcp_server_approve(
        &self,
        name: &str,
        digest: Option<String>,
        json: bool,
    ) -> Result<ExitCode> {
        let registry = self.open()?;
        let before = registry.mcp_server(name)?;
        let record = self.apply(
            &registry,
            Operation::McpServerApprove {
                name: name.into(),
                digest,
            },
        )?;
        if json {
            return print_json(&record);
        }
        let after: McpServerRecord = serde_json::from_value(record)?;
        outln!(
            "{name}: pinned {} ({} tools); hosts serve it at their next reload",
            after.pinned.digest,
            after.pinned.tools.len()
        );
        print_changes(&before.pinned, &after.pinned, &before.waiting);
        Ok(ExitCode::SUCCESS)
    }
}
