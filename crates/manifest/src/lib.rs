//! Parse and validate Yoi plugin manifests (`plugin.toml`) and open packages.
//!
//! A package is a folder holding `plugin.toml` and the component artifact it
//! names. [`Manifest::parse`] checks the manifest on its own and returns every
//! problem at once as [`Diagnostics`]; [`Package::open`] also reads the
//! artifact safely and verifies its digest.
//!
//! ```
//! let text = r#"
//! [plugin]
//! id = "acme.guard"
//! version = "1.2.0"
//! contract = "yoi:plugin@0.1.0"
//!
//! [runtime]
//! kind = "wasm-component"
//! artifact = "guard.wasm"
//! digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
//!
//! [[hooks]]
//! point = "tool.pre_exec"
//! "#;
//! let manifest = yoi_manifest::Manifest::parse(text).unwrap();
//! assert_eq!(manifest.plugin.id.as_str(), "acme.guard");
//! ```
#![deny(missing_docs)]

mod archive;
mod build;
mod capability;
mod code;
mod compat;
mod config;
mod contract;
mod diagnostic;
mod diff;
mod digest;
mod grant;
mod hook;
mod inspect;
mod manifest;
mod observer;
mod package;
mod provider;
mod rollout;
mod service;
mod signing;
mod tool;
mod walk;

pub use archive::{ArchiveError, MAX_ENTRIES, MAX_UNPACKED_BYTES};
pub use build::{Build, Language, UnknownLanguage};
pub use capability::{
    Capabilities, FsAccess, FsMode, HostPattern, HttpsPattern, RoutePattern, Scheme,
    WebSocketPattern, relative_path, valid_secret_key,
};
pub use code::{CodeLimits, CodeStats};
pub use compat::Compat;
pub use config::{Setting, SettingType, effective, valid_setting_name};
pub use contract::{ContractVersion, ExportSurface};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Span};
pub use diff::{Changes, ManifestDiff, SettingChanges, TypeChange};
pub use digest::Digest;
pub use grant::{Capability, CapabilityError};
pub use hook::{
    FailMode, Hook, HookPoint, HostPoint, HostPointError, RESERVED_NAMESPACES, UnknownHookPoint,
};
pub use inspect::{ComponentSummary, inspect, summarize};
pub use manifest::{
    Limits, Locations, MEMORY_MB_RANGE, Manifest, PRIORITY_RANGE, PluginId, PluginMeta, Runtime,
    fields,
};
pub use observer::{ObservationKind, Observer};
pub use package::{
    MANIFEST_FILE, MAX_ARTIFACT_BYTES, MAX_MANIFEST_BYTES, Package, read_artifact_in,
};
pub use provider::{ModelPattern, Provider};
pub use rollout::{Rollout, Scope, applies, bucket};
pub use service::{Backpressure, Endpoint, Restart, Service, Signature, Timestamp};
pub use signing::{
    BUNDLE_MEDIA_TYPE, MAX_SIGNATURE_BYTES, Material, PAYLOAD_TYPE, PREDICATE_TYPE,
    PackageSignature, PublicKey, SIGNATURE_FILE, SigningError, SigningKey, Statement,
};
pub use tool::{
    InputSchema, MAX_SCHEMA_ERRORS, Tool, check_input_schema, schema_errors, schema_errors_masked,
    valid_tool_name,
};

/// JSON Schema of `plugin.toml` (draft-07), for editors and other tools.
pub const MANIFEST_SCHEMA: &str = include_str!("../plugin.schema.json");
