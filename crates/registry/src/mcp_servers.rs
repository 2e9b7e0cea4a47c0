//! The operations on declared MCP servers: add, remove, a live list
//! observed (by an operator's refresh or a host), approval. Each is audited
//! like a plugin's operations, under the server's name, which shares the
//! plugin-id namespace (its tools are `NAME.tool`); the token is sealed
//! like secret settings.

use yoi_manifest::PluginId;

use crate::error::RegistryError;
use crate::mcp_pins::{McpEndpoint, McpServerRecord, ToolList, diff, summary};
use crate::model::now_ms;
use crate::registry::{Audited, Registry};
use crate::store::{Store, Tx};

/// What `yoi mcp-server add` declares.
#[derive(Debug, Clone)]
pub struct NewMcpServer {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub endpoint: McpEndpoint,
    /// Its token: the key it is known by, and its value (sealed at rest).
    pub token: Option<(String, String)>,
}

fn refused(name: &str, why: impl Into<String>, fix: impl Into<String>) -> RegistryError {
    RegistryError::McpServer {
        name: name.to_owned(),
        why: why.into(),
        fix: fix.into(),
    }
}

pub(crate) fn token_row(name: &str) -> String {
    crate::sealed::row(name, "mcp-server", "token")
}

fn find_server(tx: &mut dyn Tx, name: &str) -> Result<McpServerRecord, RegistryError> {
    tx.mcp_server(name)?.ok_or_else(|| {
        refused(
            name,
            "no MCP server has this name",
            "`yoi mcp-server list` shows the names; `yoi mcp-server add NAME URL` declares one",
        )
    })
}

impl<S: Store> Registry<S> {
    /// Declares an MCP server with its first tool list, pinned (`yoi
    /// mcp-server add`). Its name may not be a published plugin's id.
    pub fn add_mcp_server(
        &self,
        server: &NewMcpServer,
        tools: &ToolList,
        actor: &str,
    ) -> Result<McpServerRecord, RegistryError> {
        let name = server.name.as_str();
        let id = match PluginId::new(name) {
            Ok(id) => id,
            Err(e) => {
                let err = refused(
                    name,
                    format!("the name is not a plugin id: {e}"),
                    "name it like a plugin: lowercase letters, digits, `.`, `_`, `-` (its tools are NAME.tool)",
                );
                self.record_refusal(actor, "mcp_server_add", Some(name), None, &err.to_string())?;
                return Err(err);
            }
        };
        let sealed = match &server.token {
            Some((_, value)) => Some(
                self.config_keys(true)?
                    .seal(&token_row(name), value.as_bytes())?,
            ),
            None => None,
        };
        let now = now_ms();
        let record = McpServerRecord {
            name: id,
            endpoint: server.endpoint.clone(),
            token_secret: server.token.as_ref().map(|(k, _)| k.clone()),
            pinned: tools.clone(),
            pending: None,
            added_by: actor.to_owned(),
            added_at: now,
            updated_at: now,
            waiting: Vec::new(),
            sealed_token: sealed,
        };
        self.audited(actor, "mcp_server_add", Some(name), None, |tx| {
            record.endpoint.check().map_err(|why| {
                refused(name, why, "write an https:// URL, or http:// to a loopback address")
            })?;
            if tx.mcp_server(name)?.is_some() {
                return Err(refused(
                    name,
                    "an MCP server with this name is already declared",
                    "`yoi mcp-server refresh NAME` fetches its list again; remove it first to change its address",
                ));
            }
            if !tx.versions(Some(name))?.is_empty() {
                return Err(refused(
                    name,
                    "a plugin with this id is published, and its tools are named like the server's would be",
                    "choose another name for the server",
                ));
            }
            tx.put_mcp_server(&record)?;
            Ok((
                record.clone(),
                format!(
                    "{} at {}: pinned {} tools ({}){}",
                    name,
                    record.endpoint.shown(),
                    tools.tools.len(),
                    tools.digest,
                    if tools.left_out.is_empty() {
                        String::new()
                    } else {
                        format!(", {} left out", tools.left_out.len())
                    }
                ),
            ))
        })
        .result
    }

    /// Forgets an MCP server: hosts stop serving its tools.
    pub fn remove_mcp_server(&self, name: &str, actor: &str) -> Result<(), RegistryError> {
        self.remove_mcp_server_audited(name, actor).result
    }

    pub(crate) fn remove_mcp_server_audited(&self, name: &str, actor: &str) -> Audited<()> {
        self.audited(actor, "mcp_server_remove", Some(name), None, |tx| {
            let record = find_server(tx, name)?;
            tx.delete_mcp_server(name)?;
            Ok(((), format!("{name} at {}", record.endpoint.shown())))
        })
    }

    /// Records a live tool list: when it differs from the pinned list, it
    /// becomes the pending list and the differing tools are held; when it
    /// is the pinned list again, nothing is pending. `action` is
    /// `mcp_server_refresh` (an operator) or `mcp_server_changed` (a host
    /// that saw it); a host's report that changes nothing writes nothing
    /// and returns `None`.
    pub fn observe_mcp_tools(
        &self,
        name: &str,
        live: &ToolList,
        actor: &str,
        action: &str,
    ) -> Result<Option<McpServerRecord>, RegistryError> {
        let operator = action == "mcp_server_refresh";
        if !operator {
            // A host's report: skip the write when the registry already
            // holds exactly this.
            let current = self.store.read(|tx| find_server(tx, name))?;
            let same_pending = current.pending.as_ref().map(|p| &p.digest) == Some(&live.digest);
            let back_to_pinned = current.pinned.digest == live.digest;
            if same_pending || back_to_pinned && current.pending.is_none() {
                return Ok(None);
            }
        }
        self.audited(actor, action, Some(name), None, |tx| {
            let mut record = find_server(tx, name)?;
            let reason = if record.pinned.digest == live.digest {
                record.pending = None;
                "the live list is the pinned list".to_owned()
            } else {
                let changes = diff(&record.pinned, live);
                record.pending = Some(live.clone());
                format!(
                    "the live list differs from the pinned one: {}; held until `yoi mcp-server approve {name}`",
                    summary(&changes)
                )
            };
            record.updated_at = now_ms();
            record.waiting = record.changes();
            tx.put_mcp_server(&record)?;
            Ok((Some(record), reason))
        })
        .result
    }

    /// Pins the pending list (`yoi mcp-server approve`). With `digest`,
    /// only if the pending list is still the one with that digest (the one
    /// the operator saw).
    pub fn approve_mcp_server(
        &self,
        name: &str,
        digest: Option<&str>,
        actor: &str,
    ) -> Result<McpServerRecord, RegistryError> {
        self.approve_mcp_server_audited(name, digest, actor).result
    }

    pub(crate) fn approve_mcp_server_audited(
        &self,
        name: &str,
        digest: Option<&str>,
        actor: &str,
    ) -> Audited<McpServerRecord> {
        self.audited(actor, "mcp_server_approve", Some(name), None, |tx| {
            let mut record = find_server(tx, name)?;
            let Some(pending) = record.pending.take() else {
                return Err(refused(
                    name,
                    "no changed tool list is waiting for approval",
                    format!("`yoi mcp-server refresh {name}` fetches the live list and shows what changed"),
                ));
            };
            if let Some(d) = digest
                && d != pending.digest
            {
                return Err(refused(
                    name,
                    format!("the waiting list is {}, not {d}: it changed again", pending.digest),
                    format!("`yoi mcp-server show {name}` shows the list waiting now"),
                ));
            }
            let reason = format!(
                "pinned {} ({}), was {}",
                pending.digest,
                summary(&diff(&record.pinned, &pending)),
                record.pinned.digest
            );
            record.pinned = pending;
            record.waiting = Vec::new();
            record.updated_at = now_ms();
            tx.put_mcp_server(&record)?;
            Ok((record, reason))
        })
    }

    /// Every declared MCP server, by name.
    pub fn mcp_servers(&self) -> Result<Vec<McpServerRecord>, RegistryError> {
        self.store.read(|tx| tx.mcp_servers())
    }

    /// One declared MCP server.
    pub fn mcp_server(&self, name: &str) -> Result<McpServerRecord, RegistryError> {
        self.store.read(|tx| find_server(tx, name))
    }

    /// A server's token, opened for a host or a fetch; `None` without one.
    pub fn mcp_token(&self, record: &McpServerRecord) -> Result<Option<String>, RegistryError> {
        let Some(sealed) = &record.sealed_token else {
            return Ok(None);
        };
        let plain = self
            .config_keys(false)?
            .open(&token_row(record.name.as_str()), sealed)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| RegistryError::ConfigKey("a sealed MCP token is not UTF-8".into()))
    }
}
