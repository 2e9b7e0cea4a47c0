//! Yoi's plugin registry: the system of record for published versions,
//! activation and rollout, the operator's capability grants, the audit log
//! and runtime events (docs/operations.md).
//!
//! The default store is one SQLite database file (WAL, serialized writers,
//! crash-safe) plus content-addressed artifacts under `blobs/sha256/`, in a
//! registry folder; nothing to start. A fleet of hosts shares one
//! PostgreSQL database instead ([`Location::Postgres`], docs/fleet.md).
//! Lifecycle code talks to either through the [`Store`] trait.
//!
//! Every operation, successful or refused, appends an [`AuditRecord`];
//! refusals change nothing and say how to fix them.
#![deny(missing_docs)]

mod artifacts;
mod backend;
mod blobs;
mod config;
mod config_rules;
mod error;
mod lifecycle;
mod mcp_pins;
mod mcp_servers;
mod model;
mod operation;
mod postgres;
mod queries;
mod registry;
mod sealed;
mod sqlite;
mod store;
mod trust;
mod trust_keys;

pub use backend::DATABASE_FILE;
pub use backend::{Backend, Location};
pub use config::NewValue;
pub use error::{RegistryError, TrustCode};
pub use lifecycle::trust_error;
pub use mcp_pins::{
    LeftOut, MAX_MCP_DESCRIPTION, MAX_MCP_SCHEMA, MAX_MCP_TOOL_NAME, MAX_MCP_TOOLS, McpEndpoint,
    McpServerRecord, McpToolDef, PinnedTool, ToolChange, ToolList, clean_text, diff, summary,
};
pub use mcp_servers::NewMcpServer;
pub use model::now_ms;
pub use model::{
    AuditRecord, CapabilityLine, Change, ConfigRecord, Deployment, EventRecord, EventTotals,
    GrantRecord, HostPosture, HostRecord, LoadedVersion, Marks, OciSource, Outcome, Provenance,
    Pruned, Snapshot, State, UpgradePlan, VersionRecord, Window,
};
pub use operation::{Answer, Operation};
pub use registry::{Activation, Published, Registry};
pub use trust::{Checkpoint, Signer, TrustPolicy, TrustRefusal, TrustedKey, short};
pub use trust_keys::NewTrustedKey;
// The grant and rollout model is the package's (yoi-manifest); re-exported
// here because every registry call speaks it.
pub use postgres::PostgresStore;
pub use sealed::{CONFIG_KEY_FILE, ConfigKeys};
pub use sqlite::SqliteStore;
pub use store::{Store, StoreResult, Tx};
pub use yoi_manifest::{
    Capability, CapabilityError, Rollout, Scope, Setting, SettingType, applies, bucket,
};
